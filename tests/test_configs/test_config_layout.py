"""The config tree's rules: inheritance depth, one definition of the shared
blocks (encoders, tiny sizes, augmentation ops), hooks registered once,
no false unknown-key warnings."""
import contextlib
import glob
import io
import os.path as osp

import pytest
from mmengine.config import Config

from albef_mm.registry import TRANSFORMS
from helpers import CONFIG_ROOT
from helpers.scripts import load_script
from helpers.tiny import (REPO_ROOT, TINY_OVERRIDES,
                                   TINY_SIZES_FILE, tiny_pretrain_model_cfg)

TASK_CONFIGS = sorted(glob.glob(osp.join(CONFIG_ROOT, 'albef', '*.py')))
IDS = [osp.basename(p) for p in TASK_CONFIGS]
MODEL_BASES = sorted(glob.glob(osp.join(CONFIG_ROOT, '_base_', 'models',
                                        '*.py')))
# ALBEF's RandomAugment op list (its Pretrain / Retrieval datasets), in the
# original's order: np.random.choice draws by index, so order matters.
ALBEF_OPS = ['Identity', 'AutoContrast', 'Equalize', 'Brightness',
             'Sharpness', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY',
             'Rotate']
RUNTIME_HOOKS = ('SkippedSampleReportHook', 'RandomStateHook')


def _base_depth(path: str) -> int:
    """Levels of `_base_` files below ``path`` (0: no `_base_`)."""
    bases = Config._get_base_files(path)
    return max((1 + _base_depth(osp.normpath(osp.join(osp.dirname(path), b)))
                for b in bases), default=0)


# Variants: one base, a sibling task config of which they change one block
# (the data source, or the pre-trained weights of the paper's 4M rows); they
# add one level to it.
VARIANTS = {'pretrain_shapes_tiny_shards.py': 'pretrain_shapes_tiny.py'}
VARIANTS.update({f'{name}_4m.py': f'{name}.py' for name in (
    'nlvr2', 'nlvr2_ta_pretrain', 'retrieval_coco', 'retrieval_flickr30k',
    'snli_ve', 'vqa')})


@pytest.mark.parametrize('path', TASK_CONFIGS, ids=IDS)
def test_inheritance_is_at_most_two_levels(path):
    # a task file lists base files; a base may inherit one more base
    # (retrieval_coco -> coco_retrieval -> flickr30k_retrieval)
    name = osp.basename(path)
    if name in VARIANTS:
        assert Config._get_base_files(path) == [f'./{VARIANTS[name]}']
        path = osp.join(osp.dirname(path), VARIANTS[name])
    assert _base_depth(path) <= 2


def test_depth_counts_levels():
    coco = osp.join(CONFIG_ROOT, 'albef', 'retrieval_coco.py')
    assert _base_depth(coco) == 2
    assert _base_depth(osp.join(CONFIG_ROOT, '_base_',
                                'default_runtime.py')) == 0


def test_model_bases_share_one_encoder_block():
    enc = Config.fromfile(osp.join(CONFIG_ROOT, '_base_', 'models',
                                   'albef_encoders.py')).model
    for name, img_size in (('albef_pretrain.py', 256),
                           ('albef_retrieval.py', 384)):
        path = osp.join(CONFIG_ROOT, '_base_', 'models', name)
        assert Config._get_base_files(path) == ['./albef_encoders.py']
        model = Config.fromfile(path).model
        assert model.text_backbone == enc.text_backbone
        assert model.neck == enc.neck
        assert model.vision_backbone.img_size == img_size
        assert model.vision_backbone.embed_dims == 768


@pytest.mark.parametrize('path', MODEL_BASES,
                         ids=[osp.basename(p) for p in MODEL_BASES])
def test_model_bases_hold_no_runtime_hooks(path):
    hooks = [h['type'] for h in Config.fromfile(path).get('custom_hooks', [])]
    assert not set(hooks) & set(RUNTIME_HOOKS), (
        f'{osp.basename(path)}: {RUNTIME_HOOKS} are default_hooks of '
        'configs/_base_/default_runtime.py; remove them from custom_hooks')


def _hook_types(cfg):
    default = [h['type'] for h in cfg.get('default_hooks', {}).values()
               if h is not None]
    return default + [h['type'] for h in cfg.get('custom_hooks', [])]


@pytest.mark.parametrize('path', TASK_CONFIGS, ids=IDS)
def test_each_hook_registered_once(path):
    types = _hook_types(Config.fromfile(path))
    assert len(types) == len(set(types)), sorted(types)
    assert set(RUNTIME_HOOKS) <= set(types)


def test_contrastive_training_configs_keep_their_hooks():
    # the hooks these configs registered before the move, type by type
    expected = {'IterTimerHook', 'LoggerHook', 'ParamSchedulerHook',
                'CheckpointHook', 'DistSamplerSeedHook',
                'MomentumUpdateHook', 'QueueUpdateHook', 'AlphaWarmupHook',
                'SkippedSampleReportHook', 'RandomStateHook'}
    for name in ('pretrain_4m.py', 'pretrain_14m.py',
                 'pretrain_shapes_tiny.py', 'retrieval_coco.py',
                 'retrieval_flickr30k.py', 'retrieval_shapes_tiny.py'):
        cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name))
        assert set(_hook_types(cfg)) == expected, name


def _random_augments(obj):
    if isinstance(obj, dict):
        if obj.get('type') == 'RandomAugment':
            yield obj
        for value in obj.values():
            yield from _random_augments(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _random_augments(value)


# Shapes pre-training keeps only the ops that leave its captions true
# (colours, positions and shape outlines are what the captions name).
CAPTION_PRESERVING_OPS = {
    name: ['Identity', 'Brightness', 'Sharpness']
    for name in ('pretrain_shapes_tiny.py', 'pretrain_shapes_tiny_shards.py')}


@pytest.mark.parametrize('path', TASK_CONFIGS, ids=IDS)
def test_random_augment_uses_albefs_ten_ops(path):
    cfg = Config.fromfile(path).to_dict()
    expected = CAPTION_PRESERVING_OPS.get(osp.basename(path), ALBEF_OPS)
    built = [list(TRANSFORMS.build(a).augs) for a in _random_augments(cfg)]
    assert all(augs == expected for augs in built), built
    if osp.basename(path) in CAPTION_PRESERVING_OPS:
        assert built, 'the Shapes pre-training pipeline lost RandomAugment'


def test_albef_ops_are_defined_once():
    # the op list lives in the transform's default, not in config files
    for path in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'),
                          recursive=True):
        with open(path) as f:
            text = f.read()
        assert "'TranslateX'" not in text, path


def _train_module():
    return load_script('tools', 'train.py')


def _warnings(module, cfg) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module.warn_unknown_keys(cfg)
    return out.getvalue()


def test_unknown_key_warning_spares_config_variables():
    module = _train_module()
    for path in TASK_CONFIGS:
        cfg = Config.fromfile(path)
        assert _warnings(module, cfg) == '', path
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'retrieval_shapes_tiny.py'))
    assert 'tiny_vision_backbone' in cfg
    cfg.merge_from_dict(dict(train_cgf=dict(max_epochs=1)))
    assert "did you mean 'train_cfg'" in _warnings(module, cfg)


def test_shapes_configs_share_the_tiny_sizes():
    sizes = Config.fromfile(osp.join(CONFIG_ROOT, '_base_', 'models',
                                     'shapes_tiny_sizes.py'))
    models = [Config.fromfile(osp.join(CONFIG_ROOT, 'albef', n)).model
              for n in ('pretrain_shapes_tiny.py', 'retrieval_shapes_tiny.py')]
    for model in models:
        for key in ('vision_backbone', 'text_backbone', 'neck'):
            block = model[key]
            for k, v in sizes[f'tiny_{key}'].items():
                assert block[k] == v, (key, k)
        assert model.itc_head.embed_dim == sizes.tiny_embed_dim
        assert model.data_preprocessor.tokenizer.name_or_path == \
            sizes.tiny_vocab


def test_test_tiny_sizes_come_from_one_config_file():
    sizes = Config.fromfile(TINY_SIZES_FILE)
    assert TINY_OVERRIDES['vision_backbone'] == sizes.tiny_vision_backbone
    assert TINY_OVERRIDES['text_backbone'] == sizes.tiny_text_backbone
    assert TINY_OVERRIDES['neck'] == sizes.tiny_neck
    model = tiny_pretrain_model_cfg()
    # the reference-fixture sizes, which differ from the Shapes model's
    assert model['vision_backbone']['patch_size'] == 16
    assert model['vision_backbone']['num_layers'] == 2
    assert model['itc_head']['embed_dim'] == 32
    assert model['mlm_head']['vocab_size'] == 512
    assert osp.isdir(osp.join(REPO_ROOT, sizes.tiny_vocab))


def test_runtime_visualizer_builds_in_scope_without_warnings(tmp_path):
    # albef_mm's VISUALIZERS / VISBACKENDS children exist for this: the
    # runner builds MMEngine's Visualizer through the root registry in
    # scope albef_mm, which warns when the scope has no child registry
    import logging

    from mmengine.logging import MMLogger
    from mmengine.registry import VISUALIZERS, DefaultScope

    import albef_mm.registry  # noqa: F401  (the albef_mm children)
    import mmengine.visualization  # noqa: F401  (imported by the Runner)
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, '_base_',
                                   'default_runtime.py'))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        with DefaultScope.overwrite_default_scope('albef_mm'):
            vis = VISUALIZERS.build(dict(
                cfg.visualizer, name='layout_test', save_dir=str(tmp_path)))
    finally:
        logger.removeHandler(handler)
    assert type(vis).__name__ == 'Visualizer'
    assert not [r for r in records if 'Failed to search registry'
                in r.getMessage()]
