"""Parity of ``ALBEFNLVR`` with ``fixtures/nlvr.pth`` (original
``models/model_nlvr.py``): 18-layer encoder (the fixture's bert_config has
12 layers and ``fusion_layer`` 6; the original model overrides the count to
18, so the project neck gets ``2 × (12 − 6)`` paired layers), the image
pair given as ``image0``/``image1``. Outputs as the VE fixture
(see :mod:`parity.ve`); ``image_embeds`` is ``[2B, N, D]`` (all first
images, then all second images)."""
from typing import List, Optional

import torch

from .common import UnsupportedFixture
from .ve import build_loaded, classification_model_cfg, run_classification


def run(fixture: dict, parts: Optional[List[str]] = None,
        replay: str = 'inject'):
    """Yields ``(part, checks)`` for the NLVR2 fixture (no random draws)."""
    bert = fixture['bert_config']
    pairs = bert['num_hidden_layers'] - bert['fusion_layer']
    if pairs < 1:
        raise UnsupportedFixture(f'bert_config has no fusion layers: {bert}')
    cfg = classification_model_cfg(fixture, 'ALBEFNLVR', 2, 2 * pairs,
                                   neck_type='NLVRFusionEncoder')
    inp = fixture['inputs']
    images = torch.stack([inp['image0'], inp['image1']], dim=1)

    def encode(model, images):
        image0, image1 = model.encode_pair(images)
        fused = model.fuse_pair((image0, image1), inp['text_ids'],
                                inp['text_atts'])
        return torch.cat([image0, image1]), fused

    return run_classification(fixture, parts,
                              lambda: build_loaded(cfg, fixture), encode,
                              images)
