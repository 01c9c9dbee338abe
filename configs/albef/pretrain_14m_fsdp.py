# ALBEF pre-training on the 14M corpus with FSDP (MMEngine FlexibleRunner),
# bf16 autocast: 8 GPUs x 64, the schedule and model of pretrain_14m.py.
#   tools/dist_train.sh configs/albef/pretrain_14m_fsdp.py 8
# Sharded (FULL_SHARD): online parameters, gradients and AdamW states; one
# FSDP unit per ViT block and per text layer, the fusion layers and
# embeddings in the root unit (their cross-attention keys/values are
# projected outside the layers' forward). Not sharded: the momentum
# encoders (ignored modules, whole on every GPU, updated from the gathered
# online weights once per optimizer step), the ITC head (0-d temperature;
# gradients averaged like DDP) and the feature queues (buffers, identical
# on every rank). See docs/scaling.md.
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
    type='FSDPStrategy',
    model_wrapper=dict(
        type='ALBEFFullyShardedDataParallel',
        sharding_strategy='FULL_SHARD',
        auto_wrap_policy=dict(type='albef_layer_wrap_policy'),
        ignored_modules='momentum',
        backward_prefetch='BACKWARD_PRE',
        limit_all_gathers=True),
    # checkpoints hold the full (unsharded) state dict, loadable by
    # ALBEFRunner, tools/test.py and the inferencers
    state_dict_cfg='full')
# bf16 autocast; the ITC, distillation softmaxes and queues stay float32
# inside the heads. Gradient accumulation: add accumulative_counts=k (EMA
# once per optimizer step, every micro-batch enqueued).
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16')
