# ALBEF retrieval fine-tuning model (384 px): ITC with image-index-aware
# targets over batch + queue (65536), momentum distillation, ITM with
# negatives never drawn from the same image; no temperature clamp.
model = dict(
    type='ALBEFRetrieval',
    data_preprocessor=dict(
        type='ALBEFDataPreprocessor',
        tokenizer=dict(type='ALBEFTokenizer', name_or_path='bert-base-uncased'),
        # Retrieval.py tokenises training captions with max_length=30 but
        # no truncation (only the 30-word limit applies).
        max_length=30, truncation=False, padding='longest'),
    vision_backbone=dict(
        type='ALBEFViT', img_size=384, patch_size=16, embed_dims=768,
        num_layers=12, num_heads=12, mlp_ratio=4, qkv_bias=True,
        layer_norm_eps=1e-6),
    text_backbone=dict(
        type='BertTextEncoder', vocab_size=30522, hidden_size=768,
        num_layers=6, num_heads=12, intermediate_size=3072,
        max_position_embeddings=512, hidden_dropout=0.1, attn_dropout=0.1),
    neck=dict(
        type='FusionEncoder', hidden_size=768, num_layers=6, num_heads=12,
        intermediate_size=3072, encoder_width=768, hidden_dropout=0.1,
        attn_dropout=0.1),
    itc_head=dict(
        type='ITCHead', vision_width=768, text_width=768, embed_dim=256,
        temp=0.07, queue_size=65536, clamp_temp=False, use_idx_queue=True,
        distill=True),
    itm_head=dict(type='ITMHead', hidden_size=768),
    momentum=0.995,
    alpha=0.4,
)

custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='QueueUpdateHook'),
    dict(type='AlphaWarmupHook'),
    dict(type='SkippedSampleReportHook'),
    dict(type='RandomStateHook'),
]
