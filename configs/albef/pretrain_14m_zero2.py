# ALBEF pre-training on the 14M corpus with DeepSpeed ZeRO-2 (MMEngine
# FlexibleRunner): 8 GPUs x 64, the schedule and model of pretrain_14m.py.
#   pip install deepspeed   (not a dependency of albef_mm)
#   tools/dist_train.sh configs/albef/pretrain_14m_zero2.py 8
# ZeRO-2 shards the gradients and the AdamW states over the GPUs; the
# parameters (online and momentum) stay whole on every GPU, so the EMA and
# the queues work as under DDP. float32 weights: DeepSpeed's bf16 / fp16
# modes cast the whole module, momentum encoders and feature queues
# included, which would stall the EMA (a 0.005 step is below bf16's
# resolution) and quantise the queues. See docs/scaling.md.
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/datasets/pretrain_4m.py',
    '../_base_/schedules/albef_pretrain_30e.py',
    '../_base_/default_runtime.py',
]
# the 4M files + CC12M
train_dataloader = dict(dataset=dict(ann_file=[
    'coco.json', 'vg.json', 'cc12m.json', 'cc3m_train.json', 'cc3m_val.json',
    'sbu.json'
]))

runner_type = 'ALBEFFlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    zero_optimization=dict(
        stage=2,
        allgather_partitions=True,
        reduce_scatter=True,
        allgather_bucket_size=int(2e8),
        reduce_bucket_size=int(2e8),
        overlap_comm=True,
        contiguous_gradients=True),
    # micro-batches per optimizer step (DeepSpeed counts them; the EMA
    # runs once per step, every micro-batch is enqueued)
    gradient_accumulation_steps=1,
    gradient_clipping=0.0)
# DeepSpeed builds and steps the optimizer; the ALBEF parameter groups (no
# weight decay on norms and biases) come from the constructor.
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.02,
                   betas=(0.9, 0.999), eps=1e-8),
    constructor='ALBEFOptimWrapperConstructor')
