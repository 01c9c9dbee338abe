# ALBEF NLVR2 model (384 px): 6 text layers + 12 fusion layers in 6 pairs
# (even layers attend to the first image, odd to the second; each pair
# shares its cross-attention key/value), a 2-way head (768 -> 768 -> ReLU
# -> 2), momentum distillation with alpha ramped over epoch 0.
model = dict(
    type='ALBEFNLVR',
    data_preprocessor=dict(
        type='ALBEFDataPreprocessor',
        tokenizer=dict(type='ALBEFTokenizer', name_or_path='bert-base-uncased'),
        # NLVR.py tokenises with padding='longest' only (30-word limit).
        max_length=None, truncation=False, padding='longest'),
    vision_backbone=dict(
        type='ALBEFViT', img_size=384, patch_size=16, embed_dims=768,
        num_layers=12, num_heads=12, mlp_ratio=4, qkv_bias=True,
        layer_norm_eps=1e-6),
    text_backbone=dict(
        type='BertTextEncoder', vocab_size=30522, hidden_size=768,
        num_layers=6, num_heads=12, intermediate_size=3072,
        max_position_embeddings=512, hidden_dropout=0.1, attn_dropout=0.1),
    neck=dict(
        type='NLVRFusionEncoder', hidden_size=768, num_layers=12,
        num_heads=12, intermediate_size=3072, encoder_width=768,
        hidden_dropout=0.1, attn_dropout=0.1),
    cls_head=dict(type='ALBEFClsHead', in_channels=768, num_classes=2),
    distill=True,
    momentum=0.995,
    alpha=0.4,
)

custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='AlphaWarmupHook'),
]
