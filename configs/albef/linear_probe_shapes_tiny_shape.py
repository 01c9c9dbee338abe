# Linear probe of the tiny Shapes ALBEF: a logistic regression on frozen
# image features (ViT CLS token) for shape-name classes.
#   python tools/dataset_converters/shapes_classification.py data/shapes
#   python tools/analysis/linear_probe.py \
#       configs/albef/linear_probe_shapes_tiny_shape.py CHECKPOINT
# The features of each split are cached in WORK_DIR/feature_cache/.
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/shapes_tiny_classification.py',
]
# the image encoder and ITC projection of the zero-shot classifier
model = _base_.tiny_classifier
# top-2 of 4 shapes
linear_probe = dict(_base_.tiny_linear_probe, topk=(1, 2))
# train / val splits with the test pipeline (no augmentation)
_probe = dict(_base_.cls_dataset, test_mode=False,
              classes=_base_.shape_classes)
train_dataloader = dict(**_base_.cls_loader, dataset=dict(
    _probe, ann_file='classification/shape_train.txt'))
val_dataloader = dict(**_base_.cls_loader, dataset=dict(
    _probe, ann_file='classification/shape_val.txt'))
test_dataloader = dict(dataset=dict(ann_file='classification/shape_test.txt',
                                    classes=_base_.shape_classes))
