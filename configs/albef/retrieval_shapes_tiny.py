# Retrieval fine-tuning of the tiny Shapes model (the embedded default's
# checkpoint), with ITC top-16 + ITM re-ranking evaluation.
#   python tools/train.py configs/albef/retrieval_shapes_tiny.py
#   python tools/test.py configs/albef/retrieval_shapes_tiny.py CHECKPOINT
_base_ = [
    '../_base_/models/albef_retrieval.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/shapes/'
vocab = data_root + 'vocab.txt'
# the sizes of configs/albef/pretrain_shapes_tiny.py
model = dict(
    data_preprocessor=dict(
        tokenizer=dict(type='ALBEFTokenizer', name_or_path=vocab)),
    vision_backbone=dict(img_size=64, patch_size=8, embed_dims=64,
                         num_layers=4, num_heads=4),
    text_backbone=dict(vocab_size=512, hidden_size=64, num_layers=2,
                       num_heads=4, intermediate_size=256,
                       max_position_embeddings=64, init_std=0.1),
    neck=dict(hidden_size=64, num_layers=2, num_heads=4,
              intermediate_size=256, encoder_width=64, init_std=0.1),
    itc_head=dict(vision_width=64, text_width=64, embed_dim=64,
                  queue_size=256),
    itm_head=dict(hidden_size=64))
load_from = 'work_dirs/pretrain_shapes_tiny/epoch_30.pth'

albef_augs = [
    'Identity', 'AutoContrast', 'Equalize', 'Brightness', 'Sharpness',
    'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate'
]
# as the Shapes pre-training: mild crops, no flip (captions say left/right)
train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFRandomResizedCrop', size=64, scale=(0.8, 1.0)),
    dict(type='RandomAugment', N=2, M=7, augs=albef_augs,
         legacy_autocontrast=False),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'image_idx')),
]
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=64),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'image_idx')),
]
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'), drop_last=True,
    dataset=dict(type='RetrievalDataset', data_root=data_root,
                 ann_file='retrieval_train.json', pipeline=train_pipeline))
_eval_loader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(
    **_eval_loader,
    dataset=dict(type='RetrievalDataset', data_root=data_root,
                 ann_file='retrieval_val.json', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = dict(
    **_eval_loader,
    dataset=dict(type='RetrievalDataset', data_root=data_root,
                 ann_file='retrieval_test.json', test_mode=True,
                 pipeline=test_pipeline))
val_evaluator = dict(type='RetrievalRecall')
test_evaluator = val_evaluator
val_cfg = dict(type='RetrievalValLoop', k_test=16)
test_cfg = dict(type='RetrievalTestLoop', k_test=16)

max_epochs = 6
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=0.02),
    constructor='ALBEFOptimWrapperConstructor')
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=2e-4, min_lr=2e-5,
         warmup_epochs=1, max_epochs=max_epochs, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1,
                    save_best='retrieval/r_mean', rule='greater'))
log_processor = dict(window_size=20)
test_after_train = True
