# Text-assignment pre-training for NLVR2 (NLVR_pretrain.yaml): 1 epoch on
# the 4M corpus, 256 px, 8 GPUs x 64, AdamW lr 2e-5 (staircase warm-up from
# 1e-5 over the first 100 iterations; min_lr 1e-5). For each caption an
# image pair is drawn from image-image similarities: (own, similar) ->
# label 0, (similar, own) -> 1, (similar, similar) -> 2 ("neither").
#   tools/dist_train.sh configs/albef/nlvr2_ta_pretrain.py 8
# load_from: the 14M pre-training checkpoint (nlvr2_ta_pretrain_4m.py: the
# 4M one; both train on the 4M corpus, as the paper's TA step); original or
# albef_mm format; fusion layer l initialises both layers of pair l. The
# result is the load_from of configs/albef/nlvr2.py (nlvr2_4m.py).
# DDP: the projections kept from pre-training receive no gradient; the
# model freezes them, so no find_unused_parameters is needed.
_base_ = [
    '../_base_/datasets/pretrain_4m.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ALBEFNLVRTextAssignment',
    data_preprocessor=dict(
        type='ALBEFDataPreprocessor',
        tokenizer=dict(type='ALBEFTokenizer', name_or_path='bert-base-uncased'),
        # Pretrain_nlvr.py: padding='longest', truncation, max_length=25
        max_length=25, truncation=True, padding='longest'),
    vision_backbone=dict(
        type='ALBEFViT', img_size=256, patch_size=16, embed_dims=768,
        num_layers=12, num_heads=12, mlp_ratio=4, qkv_bias=True,
        layer_norm_eps=1e-6),
    text_backbone=dict(
        type='BertTextEncoder', vocab_size=30522, hidden_size=768,
        num_layers=6, num_heads=12, intermediate_size=3072,
        max_position_embeddings=512, hidden_dropout=0.1, attn_dropout=0.1),
    # the NLVR2 encoder: 12 fusion layers in 6 pairs sharing key/value
    neck=dict(
        type='NLVRFusionEncoder', hidden_size=768, num_layers=12,
        num_heads=12, intermediate_size=3072, encoder_width=768,
        hidden_dropout=0.1, attn_dropout=0.1),
    ta_head=dict(type='ALBEFClsHead', in_channels=768, num_classes=3,
                 with_hidden=False),
    vision_width=768, embed_dim=256, temp=0.07)
load_from = 'checkpoints/ALBEF.pth'  # 14M

max_epochs = 1
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.02),
    constructor='ALBEFOptimWrapperConstructor')
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-5, min_lr=1e-5,
         warmup_epochs=1, max_epochs=max_epochs, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
# no momentum branch, no alpha: no training hook (the bookkeeping hooks
# come with default_runtime.py)
custom_hooks = []
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
