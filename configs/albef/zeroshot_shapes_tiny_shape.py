# Zero-shot shape-name classification (circle / cross / square / triangle)
# with the tiny ALBEF pre-trained on Shapes (see zeroshot_shapes_tiny.py).
#   python tools/test.py configs/albef/zeroshot_shapes_tiny_shape.py CKPT
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/models/shapes_tiny_sizes.py',
    '../_base_/datasets/shapes_cls.py',
    '../_base_/default_runtime.py',
]

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
    pretrained_text=None,
    classnames={{_base_.shape_classes}},
    # only words of the Shapes vocabulary (others would become [UNK])
    templates=['there is a {}.', 'an image with a {}.', 'a picture of a {}.',
               'a {} shape.'],
    itm_rerank_k=0)

test_dataloader = dict(dataset=dict(ann_file='classification/shape_test.txt',
                                    classes={{_base_.shape_classes}}))
# top-2 of 4 shapes
test_evaluator = dict(topk=(1, 2))
