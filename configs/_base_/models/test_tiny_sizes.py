# The sizes of the tiny models the unit tests build (tests/helpers/tiny.py
# reads this file), which are the sizes of the reference fixtures recorded
# with the original ALBEF code: width 64, 2 ViT blocks (patch 16 on 64 px,
# so 16 patches), 2 text + 2 fusion layers with 2 heads, vocab 512, ITC
# projection 32, queue 16. The variable names are those of
# shapes_tiny_sizes.py (the Shapes model is larger: patch 8, 4 ViT blocks,
# 4 heads), so a config can list either file in `_base_` and write
#   model = dict(vision_backbone=_base_.tiny_vision_backbone, ...)
tiny_vocab = 'tests/data/tiny_vocab'  # relative to the repository root
tiny_data_preprocessor = dict(
    tokenizer=dict(type='ALBEFTokenizer', name_or_path=tiny_vocab))
tiny_vision_backbone = dict(img_size=64, patch_size=16, embed_dims=64,
                            num_layers=2, num_heads=2, pretrained=None)
tiny_text_backbone = dict(vocab_size=512, hidden_size=64, num_layers=2,
                          num_heads=2, intermediate_size=128,
                          max_position_embeddings=64)
tiny_neck = dict(hidden_size=64, num_layers=2, num_heads=2,
                 intermediate_size=128, encoder_width=64)
tiny_width = 64  # text / fusion width: the input of every task head
tiny_embed_dim = 32  # ITC projection width
tiny_queue_size = 16
