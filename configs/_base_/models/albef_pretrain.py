# ALBEF pre-training model: the shared encoders (ViT-B/16 at 256 px, BERT-base
# split 6 text / 6 fusion layers) with ITC (queue 65536, momentum
# distillation), ITM and MLM heads.
_base_ = ['./albef_encoders.py']
model = dict(
    type='ALBEFPretrain',
    vision_backbone=dict(
        # DeiT-B/16 (ImageNet-1k), as the original; a local file works too.
        pretrained='https://dl.fbaipublicfiles.com/deit/'
        'deit_base_patch16_224-b5f2ef4d.pth'),
    itc_head=dict(
        type='ITCHead', vision_width=768, text_width=768, embed_dim=256,
        temp=0.07, queue_size=65536, clamp_temp=True),
    itm_head=dict(type='ITMHead', hidden_size=768),
    mlm_head=dict(
        type='MLMHead', hidden_size=768, vocab_size=30522, mask_prob=0.15),
    # bert-base-uncased: a local directory with model.safetensors or a hub
    # name; the 6 cross-attention blocks start from random init.
    pretrained_text='bert-base-uncased',
)

# The training hooks this model needs (it checks them at build time): the
# momentum encoders' EMA before each iteration, the queue update after it
# and the alpha ramp over epoch 0. The runtime hooks (skipped-sample report,
# random states in checkpoints) are in default_runtime.py.
custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='QueueUpdateHook'),
    dict(type='AlphaWarmupHook'),
]
