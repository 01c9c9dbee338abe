# VQA fine-tuning of the tiny Shapes model (the embedded default's
# pre-training checkpoint), evaluated on the Shapes val split with the
# official VQA accuracy (and the most-frequent-answer-per-question-type
# baseline); tools/test.py writes the result file of the test split.
#   python tools/train.py configs/albef/vqa_shapes_tiny.py
#   python tools/test.py configs/albef/vqa_shapes_tiny.py CHECKPOINT
_base_ = [
    '../_base_/models/albef_vqa.py',
    '../_base_/models/shapes_tiny_sizes.py',
    '../_base_/datasets/vqa_shapes.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor={{_base_.tiny_data_preprocessor}},
    vision_backbone={{_base_.tiny_vision_backbone}},
    text_backbone={{_base_.tiny_text_backbone}},
    neck={{_base_.tiny_neck}},
    # the decoder takes the fusion layers: as many layers as the neck
    decoder_head=dict(vocab_size=512, hidden_size={{_base_.tiny_width}},
                      num_layers=2, num_heads=4, intermediate_size=256,
                      max_position_embeddings=64),
    answer_list='data/shapes/answer_list.json',
    k_test=8,
    init_from_pretrain='work_dirs/pretrain_shapes_tiny/epoch_6.pth',
    pretrained_text=None)
max_epochs = 3
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4, weight_decay=0.02),
    constructor='ALBEFOptimWrapperConstructor')
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-4, min_lr=5e-5,
         warmup_epochs=1, step_size=20, max_epochs=max_epochs,
         by_epoch=True, convert_to_iter_based=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs)
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(window_size=20)
