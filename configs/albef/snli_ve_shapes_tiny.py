# SNLI-VE-style fine-tuning of the tiny Shapes model (the embedded
# default's checkpoint) on the generated Shapes ve_{train,dev,test}.json;
# best checkpoint by dev accuracy.
#   python tools/train.py configs/albef/snli_ve_shapes_tiny.py
#   python tools/test.py configs/albef/snli_ve_shapes_tiny.py \
#       work_dirs/snli_ve_shapes_tiny/best_accuracy_acc_epoch_N.pth
_base_ = [
    '../_base_/models/albef_snli_ve.py',
    '../_base_/models/shapes_tiny_sizes.py',
    '../_base_/datasets/snli_ve.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor={{_base_.tiny_data_preprocessor}},
    vision_backbone={{_base_.tiny_vision_backbone}},
    text_backbone={{_base_.tiny_text_backbone}},
    neck={{_base_.tiny_neck}},
    cls_head=dict(in_channels={{_base_.tiny_width}}))
load_from = 'work_dirs/pretrain_shapes_tiny/epoch_6.pth'

data_root = 'data/shapes/'
# as the Shapes pre-training: mild crops, no flip (texts say left/right)
train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFRandomResizedCrop', size=64, scale=(0.8, 1.0)),
    dict(type='RandomAugment', N=2, M=7, legacy_autocontrast=False),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'gt_label')),
]
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=64),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'gt_label')),
]
_shapes = dict(data_root=data_root, data_prefix=dict(img_path='images'))
train_dataloader = dict(
    batch_size=32, num_workers=2,
    dataset=dict(**_shapes, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    dataset=dict(**_shapes, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    dataset=dict(**_shapes, pipeline=test_pipeline))

max_epochs = 4
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=0.02),
    constructor='ALBEFOptimWrapperConstructor')
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-4, min_lr=2e-5,
         warmup_epochs=1, max_epochs=max_epochs, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_best='accuracy/acc',
                    rule='greater'))
log_processor = dict(window_size=20)
