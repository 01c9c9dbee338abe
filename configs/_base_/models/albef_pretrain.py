# ALBEF pre-training model: ViT-B/16 (256 px) + BERT-base split 6 text /
# 6 fusion layers, ITC (queue 65536, momentum distillation), ITM, MLM.
model = dict(
    type='ALBEFPretrain',
    data_preprocessor=dict(
        type='ALBEFDataPreprocessor',
        tokenizer=dict(type='ALBEFTokenizer', name_or_path='bert-base-uncased'),
        max_length=25, truncation=True, padding='longest'),
    vision_backbone=dict(
        type='ALBEFViT', img_size=256, patch_size=16, embed_dims=768,
        num_layers=12, num_heads=12, mlp_ratio=4, qkv_bias=True,
        layer_norm_eps=1e-6,
        # DeiT-B/16 (ImageNet-1k), as the original; a local file works too.
        pretrained='https://dl.fbaipublicfiles.com/deit/'
        'deit_base_patch16_224-b5f2ef4d.pth'),
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
        temp=0.07, queue_size=65536, clamp_temp=True),
    itm_head=dict(type='ITMHead', hidden_size=768),
    mlm_head=dict(
        type='MLMHead', hidden_size=768, vocab_size=30522, mask_prob=0.15),
    momentum=0.995,
    alpha=0.4,
    # bert-base-uncased: a local directory with model.safetensors or a hub
    # name; the 6 cross-attention blocks start from random init.
    pretrained_text='bert-base-uncased',
)

custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='QueueUpdateHook'),
    dict(type='AlphaWarmupHook'),
    dict(type='SkippedSampleReportHook'),
    dict(type='RandomStateHook'),
]
