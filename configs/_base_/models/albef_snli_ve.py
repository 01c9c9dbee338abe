# ALBEF SNLI-VE model (384 px): the hypothesis fused with the premise image
# by the 6 fusion layers, a 3-way head (768 -> 768 -> ReLU -> 3) on the
# fused [CLS], momentum distillation with a constant alpha (VE.yaml:
# warm_up False). No queue, no ITC.
_base_ = ['./albef_encoders.py']
model = dict(
    type='ALBEFVE',
    # VE.py tokenises with padding='longest' only (30-word limit).
    data_preprocessor=dict(max_length=None, truncation=False),
    vision_backbone=dict(img_size=384),
    cls_head=dict(type='ALBEFClsHead', in_channels=768, num_classes=3),
    distill=True,
)

# no AlphaWarmupHook: alpha is 0.4 from the first step
custom_hooks = [
    dict(type='MomentumUpdateHook'),
]
