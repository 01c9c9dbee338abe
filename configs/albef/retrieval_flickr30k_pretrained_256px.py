# Evaluates a raw *pre-training* checkpoint (ALBEF.pth, ALBEF_4M.pth) on
# the Flickr30K test split at its own resolution, 256 px, with ITC top-128
# + ITM re-ranking. This is NOT the paper's zero-shot protocol (that is
# retrieval_flickr30k_zeroshot.py: the COCO-fine-tuned model); it shows what
# pre-training alone gives (ALBEF #25, #29).
#   python tools/test.py configs/albef/retrieval_flickr30k_pretrained_256px.py checkpoints/ALBEF.pth
_base_ = [
    '../_base_/models/albef_retrieval.py',
    '../_base_/datasets/flickr30k_retrieval.py',
    '../_base_/default_runtime.py',
]
model = dict(vision_backbone=dict(img_size=256))
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=256),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'image_idx')),
]))
train_dataloader = None
val_dataloader = None
val_evaluator = None
val_cfg = None
