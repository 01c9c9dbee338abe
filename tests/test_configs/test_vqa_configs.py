"""VQA configs: ALBEF's recipe values, the tiny Shapes config builds its
model, datasets and metrics."""
import os.path as osp

import pytest
from mmengine.config import Config

from albef_mm.registry import DATASETS, METRICS, MODELS
from helpers.tiny import CONFIG_ROOT, REPO_ROOT


def test_vqa_recipe():
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', 'vqa.py'))
    assert cfg.model.type == 'ALBEFVQA' and cfg.model.k_test == 128
    assert cfg.model.vision_backbone.img_size == 384
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.test_dataloader.batch_size == 16
    assert cfg.train_dataloader.dataset.ann_file == [
        'vqa_train.json', 'vqa_val.json', 'vg_qa.json']
    assert cfg.optim_wrapper.optimizer.lr == 2e-5
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.02
    sched = cfg.param_scheduler[0]
    assert (sched.warmup_lr, sched.min_lr, sched.warmup_epochs,
            sched.step_size, sched.max_epochs) == (1e-5, 1e-6, 4, 100, 8)
    assert cfg.model.data_preprocessor.max_length == 25
    assert {h.type for h in cfg.custom_hooks} >= {'MomentumUpdateHook',
                                                  'AlphaWarmupHook'}
    assert 'QueueUpdateHook' not in {h.type for h in cfg.custom_hooks}
    assert cfg.test_evaluator.type == 'VQAResultWriter'


@pytest.mark.skipif(not osp.isfile(osp.join(REPO_ROOT, 'data', 'shapes',
                                            'vqa_train.json')),
                    reason='Shapes data not generated')
def test_shapes_tiny_config_builds(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'vqa_shapes_tiny.py'))
    cfg.model.init_from_pretrain = None
    model = MODELS.build(cfg.model)
    assert len(model.decoder_head.layer) == len(model.neck.layer) == 2
    assert len(model.answer_list) == 18
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(train) == 4000 and len(val) > 0
    sample = train[0]['data_samples']
    assert sample.gt_answer and len(sample.gt_answer_weight) == \
        len(sample.gt_answer)
    assert 'gt_answer' in val[0]['data_samples']
    METRICS.build(cfg.val_evaluator)
