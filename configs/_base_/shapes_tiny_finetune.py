# Shapes fine-tune base: what the fine-tuning configs of the tiny Shapes
# model share (configs/albef/{retrieval,grounding,nlvr2,snli_ve,vqa}_
# shapes_tiny.py). A task config lists its model base (and, for NLVR2 and
# SNLI-VE, the full-size dataset base whose dataset types and splits it
# keeps), then this file, and sets what is its own: the packed keys, lr,
# epochs, validation interval and best-checkpoint metric, e.g.
#   model = dict(_base_.tiny_encoders, cls_head=dict(in_channels=64))
#   param_scheduler = [dict(_base_.shapes_cosine_lr, warmup_lr=1e-4,
#                           min_lr=2e-5, max_epochs=4, end=4)]
_base_ = ['./default_runtime.py', './models/shapes_tiny_sizes.py']

shapes_root = 'data/shapes/'
# the checkpoint of configs/albef/pretrain_shapes_tiny.py
load_from = 'work_dirs/pretrain_shapes_tiny/epoch_6.pth'
# the tiny encoders (with BERT's dropout 0.1: fine-tuning keeps it)
tiny_encoders = dict(data_preprocessor=_base_.tiny_data_preprocessor,
                     vision_backbone=_base_.tiny_vision_backbone,
                     text_backbone=_base_.tiny_text_backbone,
                     neck=_base_.tiny_neck)

# Pipeline steps on the 64 px images. No flip where texts say left /
# right; crops are mild (0.8-1.0 of the area) so shapes near the border
# survive; AutoContrast is the per-channel stretch, not the original's
# overflowing one, so the colours the texts name stay.
shapes_load = dict(type='LoadRGBImageFromFile')
shapes_resize = dict(type='ALBEFResize', size=64)
shapes_crop = dict(type='ALBEFRandomResizedCrop', size=64, scale=(0.8, 1.0))
shapes_augment = dict(type='RandomAugment', N=2, M=7,
                      legacy_autocontrast=False)
# NLVR2 / SNLI-VE: a text and its label per record
_pack_label = dict(type='PackALBEFInputs', algorithm_keys=('text', 'gt_label'))
shapes_label_train_pipeline = [shapes_load, shapes_crop, shapes_augment,
                               _pack_label]
shapes_label_test_pipeline = [shapes_load, shapes_resize, _pack_label]

shapes_train_loader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'), drop_last=True)
shapes_eval_loader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))

# AdamW (a task sets its lr); ALBEF's one-epoch warm-up then per-epoch
# cosine (a task adds warmup_lr, min_lr, max_epochs and end)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', weight_decay=0.02),
    constructor='ALBEFOptimWrapperConstructor')
shapes_cosine_lr = dict(type='ALBEFStepWarmupCosineLR', warmup_epochs=1,
                        by_epoch=True, convert_to_iter_based=True, begin=0)
train_cfg = dict(type='EpochBasedTrainLoop', val_interval=1)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(max_keep_ckpts=1))
log_processor = dict(window_size=20)
