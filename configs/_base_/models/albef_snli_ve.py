# ALBEF SNLI-VE model (384 px): the hypothesis fused with the premise image
# by the 6 fusion layers, a 3-way head (768 -> 768 -> ReLU -> 3) on the
# fused [CLS], momentum distillation with a constant alpha (VE.yaml:
# warm_up False). No queue, no ITC.
model = dict(
    type='ALBEFVE',
    data_preprocessor=dict(
        type='ALBEFDataPreprocessor',
        tokenizer=dict(type='ALBEFTokenizer', name_or_path='bert-base-uncased'),
        # VE.py tokenises with padding='longest' only (30-word limit).
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
        type='FusionEncoder', hidden_size=768, num_layers=6, num_heads=12,
        intermediate_size=3072, encoder_width=768, hidden_dropout=0.1,
        attn_dropout=0.1),
    cls_head=dict(type='ALBEFClsHead', in_channels=768, num_classes=3),
    distill=True,
    momentum=0.995,
    alpha=0.4,
)

# no AlphaWarmupHook: alpha is 0.4 from the first step
custom_hooks = [
    dict(type='MomentumUpdateHook'),
]
