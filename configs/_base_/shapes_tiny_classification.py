# Shapes classification base: what the zero-shot and linear-probe configs
# of the tiny Shapes model share (configs/albef/{zeroshot,linear_probe}_
# shapes_tiny{,_shape}.py): the classifier model and the probe's settings.
# A task config lists albef_pretrain.py and this file, then picks the class
# family (colour or shape name), e.g.
#   model = dict(_base_.tiny_classifier, classnames=_base_.shape_classes)
_base_ = [
    './default_runtime.py',
    './models/shapes_tiny_sizes.py',
    './datasets/shapes_cls.py',
]

# The pre-training model's config with another type: the same parameter
# names, so the pre-training checkpoint loads (momentum encoders, MLM head
# and queues are declared ignorable by the classifier).
tiny_classifier = dict(type='ALBEFZeroShotClassifier',
                       data_preprocessor=_base_.tiny_data_preprocessor,
                       vision_backbone=_base_.tiny_vision_backbone,
                       text_backbone=_base_.tiny_text_backbone,
                       neck=_base_.tiny_neck,
                       itc_head=_base_.tiny_itc_head,
                       itm_head=_base_.tiny_itm_head,
                       pretrained_text=None)
# linear probe: a logistic regression on frozen image features; the val
# split chooses the weight decay, then the probe is refit on train + val
tiny_linear_probe = dict(
    feature='cls',  # 'cls': ViT CLS token; 'proj': normalised ITC feature
    weight_decays=[1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    max_iter=500)
