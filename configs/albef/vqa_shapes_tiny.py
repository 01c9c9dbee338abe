# VQA fine-tuning of the tiny Shapes model (the embedded default's
# pre-training checkpoint), evaluated on the Shapes val split with the
# official VQA accuracy (and the most-frequent-answer-per-question-type
# baseline); tools/test.py writes the result file of the test split.
#   python tools/train.py configs/albef/vqa_shapes_tiny.py
#   python tools/test.py configs/albef/vqa_shapes_tiny.py CHECKPOINT
_base_ = [
    '../_base_/models/albef_vqa.py',
    '../_base_/datasets/vqa_shapes.py',
    '../_base_/shapes_tiny_finetune.py',
]
model = dict(
    _base_.tiny_encoders,
    # the decoder takes the fusion layers: as many layers as the neck
    decoder_head=dict(vocab_size=512, hidden_size=_base_.tiny_width,
                      num_layers=2, num_heads=4, intermediate_size=256,
                      max_position_embeddings=64),
    answer_list='data/shapes/answer_list.json',
    k_test=8,
    # fills the encoders and the decoder (from the fusion layers) at the
    # start of training; load_from stays unset
    init_from_pretrain=_base_.load_from,
    pretrained_text=None)
load_from = None
max_epochs = 3
optim_wrapper = dict(optimizer=dict(lr=4e-4))
param_scheduler = [dict(_base_.shapes_cosine_lr, warmup_lr=1e-4, min_lr=5e-5,
                        step_size=20, max_epochs=max_epochs, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(interval=max_epochs))
