"""Misspelt registry types fail before anything is built, with the key,
the wrong name and the closest registered names."""
import os.path as osp

import pytest
from mmengine.config import Config

from albef_mm.engine.config_check import check_config_types
from albef_mm.registry import RUNNERS
from helpers import CONFIG_ROOT


@pytest.mark.parametrize('name', [
    'pretrain_shapes_tiny', 'retrieval_shapes_tiny', 'pretrain_14m',
    'retrieval_coco', 'vqa', 'nlvr2', 'snli_ve', 'grounding_refcoco+',
    'zeroshot_dtd'])
def test_every_type_of_the_shipped_configs_is_registered(name):
    path = osp.join(CONFIG_ROOT, 'albef', f'{name}.py')
    if not osp.isfile(path):
        pytest.fail(f'{path} missing')
    check_config_types(Config.fromfile(path))  # raises on a bad type


def test_misspelt_types_are_named_with_close_matches():
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'pretrain_shapes_tiny.py'))
    cfg.model.neck.type = 'FusionEncodr'
    cfg.custom_hooks[0].type = 'MomentumUpdatHook'
    cfg.train_dataloader.dataset.pipeline[0].type = 'LoadRGBImageFromFle'
    with pytest.raises(KeyError) as err:
        check_config_types(cfg)
    msg = str(err.value)
    assert "model.neck.type='FusionEncodr' is not registered; did you mean " \
        "['FusionEncoder'" in msg
    assert "custom_hooks[0].type='MomentumUpdatHook'" in msg
    assert "'MomentumUpdateHook'" in msg
    assert "train_dataloader.dataset.pipeline[0].type=" \
        "'LoadRGBImageFromFle'" in msg and "'LoadRGBImageFromFile'" in msg
    # the runner refuses the config before building anything
    with pytest.raises(KeyError, match='FusionEncodr'):
        RUNNERS.build(cfg)


def test_config_check_hints_loose_matches_and_skips_scoped_types():
    # scoped names are MMEngine's to resolve
    check_config_types(Config(dict(
        custom_hooks=[dict(type='mmengine.EmptyCacheHook')])))
    # 'MomentumHook' is 0.8 similar to 'MomentumUpdateHook' (difflib ratio
    # 2 * 12 / 30): still a suggestion
    with pytest.raises(KeyError) as err:
        check_config_types(Config(dict(
            custom_hooks=[dict(type='MomentumHook')])))
    assert "custom_hooks[0].type='MomentumHook' is not registered; did " \
        "you mean [" in str(err.value)
    assert "'MomentumUpdateHook'" in str(err.value)
