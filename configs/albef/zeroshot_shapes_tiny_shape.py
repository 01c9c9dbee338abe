# Zero-shot shape-name classification (circle / cross / square / triangle)
# with the tiny ALBEF pre-trained on Shapes (see zeroshot_shapes_tiny.py).
#   python tools/test.py configs/albef/zeroshot_shapes_tiny_shape.py CKPT
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/shapes_tiny_classification.py',
]
model = dict(
    _base_.tiny_classifier,
    classnames=_base_.shape_classes,
    # only words of the Shapes vocabulary (others would become [UNK])
    templates=['there is a {}.', 'an image with a {}.', 'a picture of a {}.',
               'a {} shape.'],
    itm_rerank_k=0)
test_dataloader = dict(dataset=dict(ann_file='classification/shape_test.txt',
                                    classes=_base_.shape_classes))
# top-2 of 4 shapes
test_evaluator = dict(topk=(1, 2))
