"""The image feature extractor's preprocessing."""
from types import SimpleNamespace

import numpy as np
from mmengine.config import Config

from albef_mm.apis.feature_extractor import _image_pipeline


def test_feature_extractor_without_test_pipeline_resizes_to_the_vit():
    model = SimpleNamespace(vision_backbone=SimpleNamespace(img_size=48))
    steps = _image_pipeline(Config(dict()), model)
    img = np.zeros((30, 70, 3), dtype=np.uint8)
    out = dict(img=img)
    for t in steps:
        out = t(out)
    assert out['img'].shape == (48, 48, 3)
