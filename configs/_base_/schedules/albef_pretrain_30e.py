# ALBEF Pretrain.yaml: AdamW lr 1e-4 (wd 0.02 on >=2-d tensors and temp),
# staircase warm-up from 1e-5 over 20 x 100 iterations of epoch 0, then a
# per-epoch cosine to 1e-5 over 30 epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.02,
                   betas=(0.9, 0.999), eps=1e-8),
    constructor='ALBEFOptimWrapperConstructor')
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-5, min_lr=1e-5,
         warmup_epochs=20, max_epochs=30, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=30)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30)
# ALBEF was trained on 8 GPUs x 64.
auto_scale_lr = dict(base_batch_size=512, enable=False)
