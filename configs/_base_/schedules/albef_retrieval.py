# Retrieval_flickr.yaml / Retrieval_coco.yaml: AdamW lr 1e-5 (wd 0.02),
# warm-up a no-op (warmup_lr = lr), per-epoch cosine to 1e-6.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.02),
    constructor='ALBEFOptimWrapperConstructor')
max_epochs = 10
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-5, min_lr=1e-6,
         warmup_epochs=1, max_epochs=max_epochs, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
