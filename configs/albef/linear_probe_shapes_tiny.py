# Linear probe of the tiny Shapes ALBEF: a logistic regression on frozen
# image features (ViT CLS token) for colour classes
# (shape-name classes: linear_probe_shapes_tiny_shape.py).
#   python tools/dataset_converters/shapes_classification.py data/shapes
#   python tools/analysis/linear_probe.py \
#       configs/albef/linear_probe_shapes_tiny.py CHECKPOINT
# The features of each split are cached in WORK_DIR/feature_cache/.
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/shapes_tiny_classification.py',
]
# the image encoder and ITC projection of the zero-shot classifier
model = _base_.tiny_classifier
linear_probe = dict(_base_.tiny_linear_probe, topk=(1, 3))
# train / val splits with the test pipeline (no augmentation)
_probe = dict(_base_.cls_dataset, test_mode=False)
train_dataloader = dict(**_base_.cls_loader, dataset=dict(
    _probe, ann_file='classification/color_train.txt'))
val_dataloader = dict(**_base_.cls_loader, dataset=dict(
    _probe, ann_file='classification/color_val.txt'))
