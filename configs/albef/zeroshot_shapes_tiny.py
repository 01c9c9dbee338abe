# Zero-shot colour classification (7 colours) with the tiny ALBEF
# pre-trained on Shapes: ITC similarity of each image with class-name
# prompts, no training.
#   python tools/dataset_converters/shapes_classification.py data/shapes
#   python tools/test.py configs/albef/zeroshot_shapes_tiny.py \
#       work_dirs/pretrain_shapes_tiny/epoch_6.pth
# ITM re-ranking of the 3 best classes: --cfg-options model.itm_rerank_k=3
# Shape-name classes: configs/albef/zeroshot_shapes_tiny_shape.py.
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/shapes_tiny_classification.py',
]
model = dict(
    _base_.tiny_classifier,
    classnames=_base_.color_classes,
    # only words of the Shapes vocabulary (others would become [UNK])
    templates=['there is a {} shape.', 'an image with a {} shape.',
               'a picture of a {} shape.', 'the shape is {}.'],
    itm_rerank_k=0)
