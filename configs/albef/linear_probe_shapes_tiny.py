# Linear probe of the tiny Shapes ALBEF: a logistic regression on frozen
# image features (ViT CLS token) for colour classes
# (shape-name classes: linear_probe_shapes_tiny_shape.py).
#   python tools/dataset_converters/shapes_classification.py data/shapes
#   python tools/analysis/linear_probe.py \
#       configs/albef/linear_probe_shapes_tiny.py CHECKPOINT
# The features of each split are cached in WORK_DIR/feature_cache/.
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/models/shapes_tiny_sizes.py',
    '../_base_/datasets/shapes_cls.py',
    '../_base_/default_runtime.py',
]

# the image encoder and ITC projection of the zero-shot classifier
model = dict(
    type='ALBEFZeroShotClassifier',
    data_preprocessor={{_base_.tiny_data_preprocessor}},
    vision_backbone={{_base_.tiny_vision_backbone}},
    text_backbone={{_base_.tiny_text_backbone}},
    neck={{_base_.tiny_neck}},
    itc_head=dict(vision_width={{_base_.tiny_width}},
                  text_width={{_base_.tiny_width}},
                  embed_dim={{_base_.tiny_embed_dim}}),
    itm_head=dict(hidden_size={{_base_.tiny_width}}),
    pretrained_text=None)

linear_probe = dict(
    feature='cls',  # 'cls': ViT CLS token; 'proj': normalised ITC feature
    weight_decays=[1e-4, 1e-3, 1e-2, 1e-1, 1.0],  # chosen on val
    max_iter=500,
    topk=(1, 3))

# train / val splits with the test pipeline (no augmentation); the val
# split chooses the weight decay, then the probe is refit on train + val
train_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ClassAnnotationDataset', data_root='data/shapes/',
                 ann_file='classification/color_train.txt',
                 classes={{_base_.color_classes}},
                 pipeline={{_base_.test_pipeline}}))
val_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ClassAnnotationDataset', data_root='data/shapes/',
                 ann_file='classification/color_val.txt',
                 classes={{_base_.color_classes}},
                 pipeline={{_base_.test_pipeline}}))
