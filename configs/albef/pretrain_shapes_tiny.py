# The embedded default: a tiny ALBEF pre-trained from scratch on the
# generated Shapes benchmark, on CPU, in minutes. Then zero-shot ITC
# retrieval on the Shapes test split.
#   python tools/dataset_converters/generate_shapes.py data/shapes
#   python tools/train.py configs/albef/pretrain_shapes_tiny.py
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/models/shapes_tiny_sizes.py',
    '../_base_/datasets/shapes_pretrain.py',
    '../_base_/schedules/albef_pretrain_30e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    data_preprocessor=_base_.tiny_data_preprocessor,
    vision_backbone=_base_.tiny_vision_backbone,
    text_backbone=_base_.tiny_pretrain_text_backbone,  # no dropout
    neck=_base_.tiny_pretrain_neck,
    # temp_range: the learnable temperature starts at ALBEF's 0.07; at this
    # lr AdamW moves it by ~lr per step, and with ALBEF's floor of 0.001 it
    # collapses to ~0.008 within a few hundred steps, which halves the test
    # recalls (Shapes captions fit many images, so sharp logits overfit
    # their false negatives). A floor of 0.03 keeps it learnable.
    itc_head=dict(_base_.tiny_itc_head, queue_size=_base_.tiny_queue_size,
                  temp_range=(0.03, 0.5)),
    itm_head=_base_.tiny_itm_head,
    mlm_head=dict(hidden_size=_base_.tiny_width, vocab_size=512),
    pretrained_text=None)

# 16,000 images (the generator's 2,000 train images plus its 14,000
# pre-training-only ones) x 6 epochs at batch 48 = 2,000 updates: fresh
# images beat repeated, augmented ones, and on 2 CPU cores batch 48 trains
# ~1.2x more samples per second than batch 32 (the step is overhead-bound).
train_dataloader = dict(batch_size=48, num_workers=2)
max_epochs = 6
optim_wrapper = dict(optimizer=dict(lr=1.6e-3))
# staircase warm-up over 5 x 20 iterations, then a per-epoch cosine
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=5e-5, min_lr=5e-5,
         warmup_epochs=5, step_size=20, max_epochs=max_epochs, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs)

_eval_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=64),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'image_idx')),
]
_eval_dataset = dict(type='RetrievalDataset', data_root='data/shapes/',
                     test_mode=True, pipeline=_eval_pipeline)
_eval_loader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(
    **_eval_loader, dataset=dict(**_eval_dataset,
                                 ann_file='retrieval_val.json'))
test_dataloader = dict(
    **_eval_loader, dataset=dict(**_eval_dataset,
                                 ann_file='retrieval_test.json'))
val_evaluator = dict(type='RetrievalRecall')
test_evaluator = val_evaluator
# zero-shot: ITC similarities only (the ITM re-ranking belongs to the
# retrieval fine-tuning configs)
val_cfg = dict(type='RetrievalValLoop', itm_rerank=False)
test_cfg = dict(type='RetrievalTestLoop', itm_rerank=False)
test_after_train = True

default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
log_processor = dict(window_size=50)
