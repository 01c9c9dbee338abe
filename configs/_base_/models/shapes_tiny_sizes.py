# The sizes of the tiny ALBEF trained on the generated Shapes benchmark, in
# one place. Task configs list this file (or a Shapes base that lists it,
# configs/_base_/shapes_tiny_{finetune,classification}.py) in `_base_` and
# use the variables:
#   model = dict(vision_backbone=_base_.tiny_vision_backbone, ...)
# (the full-size model base supplies the types and everything not set here).
tiny_vocab = 'data/shapes/vocab.txt'  # written by the Shapes generator
tiny_data_preprocessor = dict(
    tokenizer=dict(type='ALBEFTokenizer', name_or_path=tiny_vocab))
tiny_vision_backbone = dict(img_size=64, patch_size=8, embed_dims=64,
                            num_layers=4, num_heads=4, pretrained=None)
# From scratch, BERT's init std 0.02 leaves the [CLS] token almost blind to
# the words for hundreds of steps at this width; 0.1 lets the contrastive
# loss start learning within a few epochs.
tiny_text_backbone = dict(vocab_size=512, hidden_size=64, num_layers=2,
                          num_heads=4, intermediate_size=256,
                          max_position_embeddings=64, init_std=0.1)
tiny_neck = dict(hidden_size=64, num_layers=2, num_heads=4,
                 intermediate_size=256, encoder_width=64, init_std=0.1)
# Pre-training from scratch uses no dropout: within a few thousand steps it
# only slows learning (and drawing the masks is ~30 % of a CPU step here).
# Fine-tuning keeps BERT's 0.1 above.
tiny_pretrain_text_backbone = dict(tiny_text_backbone, hidden_dropout=0.0,
                                   attn_dropout=0.0)
tiny_pretrain_neck = dict(tiny_neck, hidden_dropout=0.0, attn_dropout=0.0)
tiny_width = 64  # text / fusion width: the input of every task head
tiny_embed_dim = 64  # ITC projection width
# ITC queue of the pre-trained Shapes checkpoint; the configs that load it
# (retrieval, grounding) keep the same length so that its queues load. A
# multiple of every batch size that uses it (48 pre-training, 32 fine-tuning).
tiny_queue_size = 1152
# the width arguments of the ITC / ITM heads (configs that load the
# pre-training checkpoint's queues add queue_size=tiny_queue_size)
tiny_itc_head = dict(vision_width=tiny_width, text_width=tiny_width,
                     embed_dim=tiny_embed_dim)
tiny_itm_head = dict(hidden_size=tiny_width)
