"""The recipe values of the original ALBEF configs and scripts, pinned per
config file (a changed constant changes users' numbers silently)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from albef_mm.registry import MODELS
from helpers import CONFIG_ROOT

# ALBEF's configs/*.yaml and the tokenizer calls of its scripts.
RECIPES = {
    'pretrain_4m': dict(img=256, batch=64, epochs=30, lr=1e-4,
                        warmup_lr=1e-5, warmup_epochs=20, min_lr=1e-5,
                        max_length=25, truncation=True, temp=0.07,
                        queue=65536, mask_prob=0.15, embed_dim=256),
    'pretrain_14m': dict(img=256, batch=64, epochs=30, lr=1e-4,
                         warmup_lr=1e-5, warmup_epochs=20, min_lr=1e-5,
                         max_length=25, truncation=True, temp=0.07,
                         queue=65536, mask_prob=0.15, embed_dim=256),
    'retrieval_flickr30k': dict(img=384, batch=32, epochs=10, lr=1e-5,
                                warmup_lr=1e-5, warmup_epochs=1, min_lr=1e-6,
                                max_length=30, truncation=False, temp=0.07,
                                queue=65536, k_test=128, embed_dim=256),
    'retrieval_coco': dict(img=384, batch=32, epochs=5, lr=1e-5,
                           warmup_lr=1e-5, warmup_epochs=1, min_lr=1e-6,
                           max_length=30, truncation=False, temp=0.07,
                           queue=65536, k_test=256, embed_dim=256),
}
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _cfg(name):
    return Config.fromfile(osp.join(CONFIG_ROOT, 'albef', f'{name}.py'))


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_recipe_values(name):
    exp, cfg = RECIPES[name], _cfg(name)
    model = cfg.model
    assert model.vision_backbone.img_size == exp['img']
    assert model.vision_backbone.patch_size == 16
    assert cfg.train_dataloader.batch_size == exp['batch']
    assert cfg.train_cfg.max_epochs == exp['epochs']
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', exp['lr'], 0.02)
    sched, = cfg.param_scheduler
    assert (sched.warmup_lr, sched.warmup_epochs, sched.min_lr) == (
        exp['warmup_lr'], exp['warmup_epochs'], exp['min_lr'])
    pre = model.data_preprocessor
    assert (pre.max_length, pre.truncation) == (exp['max_length'],
                                               exp['truncation'])
    assert (model.momentum, model.alpha) == (0.995, 0.4)
    itc = model.itc_head
    assert (itc.temp, itc.queue_size, itc.embed_dim) == (
        exp['temp'], exp['queue'], exp['embed_dim'])
    if 'mask_prob' in exp:
        assert model.mlm_head.mask_prob == exp['mask_prob']
        assert itc.clamp_temp is True
    if 'k_test' in exp:
        assert cfg.val_cfg.k_test == cfg.test_cfg.k_test == exp['k_test']
        assert itc.get('clamp_temp', True) is False
        assert itc.get('distill', True) is True


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_preprocessor_normalises_rgb_with_clip_statistics(name):
    """Raw uint8 RGB in → ``(x / 255 - mean) / std`` per channel, in R, G,
    B order, exactly as torchvision's ToTensor + Normalize in the
    original."""
    pre = MODELS.build(_cfg(name).model.data_preprocessor)
    image = torch.zeros(3, 2, 2, dtype=torch.uint8)
    image[0], image[1], image[2] = 255, 128, 0  # R, G, B planes
    out = pre(dict(inputs=[image]))['images'][0]
    for c in range(3):
        value = float(image[c, 0, 0]) / 255
        expected = (value - CLIP_MEAN[c]) / CLIP_STD[c]
        assert abs(float(out[c, 0, 0]) - expected) < 1e-6, c
