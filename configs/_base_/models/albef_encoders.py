# The encoders every ALBEF task shares: ViT-B/16 image encoder (256 px, the
# pre-training resolution), BERT-base split into 6 text layers and 6
# cross-attention fusion layers, the bert-base-uncased tokenizer, and the
# momentum (EMA 0.995) and distillation weight (alpha 0.4) of ALBEFBase.
# Task model files (albef_pretrain.py, albef_retrieval.py, ...) inherit
# this file and add the model `type`, their heads and their overrides.
model = dict(
    data_preprocessor=dict(
        type='ALBEFDataPreprocessor',
        tokenizer=dict(type='ALBEFTokenizer', name_or_path='bert-base-uncased'),
        max_length=25, truncation=True, padding='longest'),
    vision_backbone=dict(
        type='ALBEFViT', img_size=256, patch_size=16, embed_dims=768,
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
    momentum=0.995,
    alpha=0.4,
)
