# ALBEF retrieval fine-tuning model: the shared encoders at 384 px, ITC
# with image-index-aware targets over batch + queue (65536), momentum
# distillation, ITM with negatives never drawn from the same image; no
# temperature clamp.
_base_ = ['./albef_encoders.py']
model = dict(
    type='ALBEFRetrieval',
    # Retrieval.py tokenises training captions with max_length=30 but no
    # truncation (only the 30-word limit applies).
    data_preprocessor=dict(max_length=30, truncation=False),
    vision_backbone=dict(img_size=384),
    itc_head=dict(
        type='ITCHead', vision_width=768, text_width=768, embed_dim=256,
        temp=0.07, queue_size=65536, clamp_temp=False, use_idx_queue=True,
        distill=True),
    itm_head=dict(type='ITMHead', hidden_size=768),
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
