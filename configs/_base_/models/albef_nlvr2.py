# ALBEF NLVR2 model (384 px): 6 text layers + 12 fusion layers in 6 pairs
# (even layers attend to the first image, odd to the second; each pair
# shares its cross-attention key/value), a 2-way head (768 -> 768 -> ReLU
# -> 2), momentum distillation with alpha ramped over epoch 0.
_base_ = ['./albef_encoders.py']
model = dict(
    type='ALBEFNLVR',
    # NLVR.py tokenises with padding='longest' only (30-word limit).
    data_preprocessor=dict(max_length=None, truncation=False),
    vision_backbone=dict(img_size=384),
    neck=dict(type='NLVRFusionEncoder', num_layers=12),
    cls_head=dict(type='ALBEFClsHead', in_channels=768, num_classes=2),
    distill=True,
)

custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='AlphaWarmupHook'),
]
