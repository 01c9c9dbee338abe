"""The Shapes configs: the fine-tuning and classification configs build on
their two bases (configs/_base_/shapes_tiny_{finetune,classification}.py)
and keep the measured recipes (the README's Shapes figures come from these
values; a lost override would fall back to a base default silently)."""
import os.path as osp

import pytest
from mmengine.config import Config

from helpers import CONFIG_ROOT

FINETUNE_BASE = '../_base_/shapes_tiny_finetune.py'
CLASSIFICATION_BASE = '../_base_/shapes_tiny_classification.py'
CKPT = 'work_dirs/pretrain_shapes_tiny/epoch_6.pth'
# lr, warmup_lr, min_lr, epochs, validation interval, best-checkpoint metric
RECIPES = {
    'nlvr2_shapes_tiny': (5e-4, 2e-4, 5e-5, 10, 1, 'accuracy/acc'),
    'snli_ve_shapes_tiny': (2e-4, 1e-4, 2e-5, 4, 1, 'accuracy/acc'),
    'retrieval_shapes_tiny': (2e-4, 2e-4, 2e-5, 6, 6, 'retrieval/r_mean'),
    'grounding_shapes_tiny': (5e-5, 5e-5, 5e-6, 2, 1, 'grounding/val_d'),
    'vqa_shapes_tiny': (4e-4, 1e-4, 5e-5, 3, 3, None),
}
# the crop of the fine-tuning pipelines (no flip: texts say left / right)
CROP = dict(type='ALBEFRandomResizedCrop', size=64, scale=(0.8, 1.0))
AUGMENT = dict(type='RandomAugment', N=2, M=7, legacy_autocontrast=False)


def _path(name):
    return osp.join(CONFIG_ROOT, 'albef', f'{name}.py')


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_finetune_configs_keep_their_recipes(name):
    lr, warmup_lr, min_lr, epochs, interval, best = RECIPES[name]
    assert FINETUNE_BASE in Config._get_base_files(_path(name))
    cfg = Config.fromfile(_path(name))
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == (
        'AdamW', lr, 0.02)
    assert cfg.optim_wrapper.constructor == 'ALBEFOptimWrapperConstructor'
    [sched] = cfg.param_scheduler
    assert (sched.type, sched.warmup_lr, sched.min_lr, sched.warmup_epochs,
            sched.max_epochs, sched.begin, sched.end) == (
        'ALBEFStepWarmupCosineLR', warmup_lr, min_lr, 1, epochs, 0, epochs)
    assert sched.by_epoch and sched.convert_to_iter_based
    assert (cfg.train_cfg.type, cfg.train_cfg.max_epochs,
            cfg.train_cfg.val_interval) == ('EpochBasedTrainLoop', epochs,
                                             interval)
    ckpt_hook = cfg.default_hooks.checkpoint
    assert ckpt_hook.max_keep_ckpts == 1
    assert ckpt_hook.get('save_best') == best
    assert cfg.default_hooks.logger.interval == 20
    assert cfg.log_processor.window_size == 20
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.train_dataloader.drop_last
    assert cfg.train_dataloader.sampler.shuffle
    for split in ('val_dataloader', 'test_dataloader'):
        assert cfg[split].batch_size == 64
        assert not cfg[split].sampler.shuffle
        assert not cfg[split].persistent_workers
    # every Shapes model reads the generated vocabulary at 64 px
    model = cfg.model
    assert model.data_preprocessor.tokenizer.name_or_path == \
        'data/shapes/vocab.txt'
    assert (model.vision_backbone.img_size,
            model.vision_backbone.patch_size) == (64, 8)
    starts_from = model.get('init_from_pretrain') or cfg.load_from
    assert starts_from == CKPT


@pytest.mark.parametrize('name', ['nlvr2_shapes_tiny', 'snli_ve_shapes_tiny',
                                  'vqa_shapes_tiny'])
def test_label_tasks_crop_mildly_without_flip(name):
    pipeline = Config.fromfile(_path(name)).train_dataloader.dataset.pipeline
    assert [dict(t) for t in pipeline[1:3]] == [CROP, AUGMENT]
    assert not any(t.type == 'ALBEFRandomFlip' for t in pipeline)


def test_finetune_variants_differ_where_documented():
    nlvr = Config.fromfile(_path('nlvr2_shapes_tiny'))
    ve = Config.fromfile(_path('snli_ve_shapes_tiny'))
    retrieval = Config.fromfile(_path('retrieval_shapes_tiny'))
    grounding = Config.fromfile(_path('grounding_shapes_tiny'))
    # NLVR2 pairs the two fusion layers of the checkpoint (2 -> 4 layers)
    assert (nlvr.model.neck.num_layers, ve.model.neck.num_layers) == (4, 2)
    # the Shapes NLVR2 paths start with images/, the SNLI-VE ids do not
    assert nlvr.train_dataloader.dataset.data_prefix.img_path == ''
    assert ve.train_dataloader.dataset.data_prefix.img_path == 'images'
    for cfg in (nlvr, ve):
        assert cfg.train_dataloader.dataset.data_root == 'data/shapes/'
        assert cfg.model.cls_head.in_channels == 64
    # retrieval keeps the pre-training recipe: no dropout, temperature floor
    assert retrieval.model.text_backbone.hidden_dropout == 0.0
    assert retrieval.model.itc_head.temp_range == (0.03, 0.5)
    assert retrieval.model.itc_head.queue_size == 1152
    assert retrieval.test_after_train and grounding.test_after_train
    # grounding: no crop, a flip (expressions name no locations)
    types = [t.type for t in grounding.train_dataloader.dataset.pipeline]
    assert types == ['LoadRGBImageFromFile', 'ALBEFResize', 'ALBEFRandomFlip',
                     'RandomAugment', 'PackALBEFInputs']
    assert grounding.model.gradcam_head.layer == 0
    assert grounding.model.text_backbone.hidden_dropout == 0.1


# class family (colour or shape name) and top-k
CLASSIFICATION = {
    'zeroshot_shapes_tiny': ('color', (1, 3)),
    'zeroshot_shapes_tiny_shape': ('shape', (1, 2)),
    'linear_probe_shapes_tiny': ('color', (1, 3)),
    'linear_probe_shapes_tiny_shape': ('shape', (1, 2)),
}


@pytest.mark.parametrize('name', sorted(CLASSIFICATION))
def test_classification_variants_pick_their_classes(name):
    family, topk = CLASSIFICATION[name]
    assert CLASSIFICATION_BASE in Config._get_base_files(_path(name))
    cfg = Config.fromfile(_path(name))
    classes = cfg[f'{family}_classes']
    assert cfg.model.type == 'ALBEFZeroShotClassifier'
    assert cfg.model.itc_head.embed_dim == 64
    test = cfg.test_dataloader.dataset
    assert test.ann_file == f'classification/{family}_test.txt'
    assert test.classes == classes and test.test_mode
    if name.startswith('zeroshot'):
        assert cfg.model.classnames == classes
        assert cfg.model.itm_rerank_k == 0
        assert cfg.test_evaluator.topk == topk
        assert 'train_dataloader' not in cfg
        return
    assert cfg.linear_probe.topk == topk
    assert cfg.linear_probe.weight_decays == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    for split in ('train', 'val'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.ann_file == f'classification/{family}_{split}.txt'
        assert dataset.classes == classes and not dataset.test_mode
        # features of the unaugmented images
        assert [t.type for t in dataset.pipeline] == [
            'LoadRGBImageFromFile', 'ALBEFResize', 'PackALBEFInputs']
