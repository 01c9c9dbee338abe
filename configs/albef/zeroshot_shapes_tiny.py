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
    '../_base_/models/shapes_tiny_sizes.py',
    '../_base_/datasets/shapes_cls.py',
    '../_base_/default_runtime.py',
]

# The pre-training model's config with another type: the same parameter
# names, so the pre-training checkpoint loads (momentum encoders, MLM head
# and queues are declared ignorable by the classifier).
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
    classnames={{_base_.color_classes}},
    # only words of the Shapes vocabulary (others would become [UNK])
    templates=['there is a {} shape.', 'an image with a {} shape.',
               'a picture of a {} shape.', 'the shape is {}.'],
    itm_rerank_k=0)
