# Zero-shot texture classification on DTD (47 classes, split 1 test) with a
# pre-trained ALBEF (this project's or an original ALBEF checkpoint, e.g.
# ALBEF_4M.pth): prompts of the class names scored by ITC similarity.
#   python tools/test.py configs/albef/zeroshot_dtd.py ALBEF_4M.pth
# ITM re-ranking of the 5 best classes: --cfg-options model.itm_rerank_k=5
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/datasets/dtd.py',
    '../_base_/default_runtime.py',
]

# DTD's folder names, in sorted order (= the dataset's labels)
dtd_classes = [
    'banded', 'blotchy', 'braided', 'bubbly', 'bumpy', 'chequered',
    'cobwebbed', 'cracked', 'crosshatched', 'crystalline', 'dotted',
    'fibrous', 'flecked', 'freckled', 'frilly', 'gauzy', 'grid', 'grooved',
    'honeycombed', 'interlaced', 'knitted', 'lacelike', 'lined', 'marbled',
    'matted', 'meshed', 'paisley', 'perforated', 'pitted', 'pleated',
    'polka-dotted', 'porous', 'potholed', 'scaly', 'smeared', 'spiralled',
    'sprinkled', 'stained', 'stratified', 'striped', 'studded', 'swirly',
    'veined', 'waffled', 'woven', 'wrinkled', 'zigzagged'
]
# a generic prompt plus texture / pattern / surface phrasings
dtd_templates = [
    'a photo of a {}.',
    'a photo of a {} texture.',
    'a photo of a {} pattern.',
    'a close-up photo of a {} texture.',
    'a photo of a {} surface.',
    'a {} texture.',
    'a {} pattern.',
    'an image of something {}.',
]

# The pre-training model with another type: the weights of a pre-training
# checkpoint load by name (momentum encoders, MLM head and queues are
# ignored). Nothing is initialised from the hub: every weight comes from
# the checkpoint.
model = dict(
    type='ALBEFZeroShotClassifier',
    vision_backbone=dict(pretrained=None),
    pretrained_text=None,
    classnames=dtd_classes,
    templates=dtd_templates,
    itm_rerank_k=0)

test_dataloader = dict(dataset=dict(classes=dtd_classes))
