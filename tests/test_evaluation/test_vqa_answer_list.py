"""VQAReleasedAnswerListHook: a VQA v2 run warns when its answer list is
not ALBEF's released answer_list.json (3,128 answers, no empty one)."""
import logging
import os.path as osp

import pytest
import torch.nn as nn
from mmengine.config import Config

from albef_mm.evaluation.metrics.vqa_answer_list import (
    RELEASED_SIZE, VQAReleasedAnswerListHook, answer_list_differences)
from helpers import CONFIG_ROOT


class _Model(nn.Module):
    def __init__(self, answers, answer_file=None):
        super().__init__()
        self.answer_list = answers
        self.answer_file = answer_file


class _Runner:
    def __init__(self, model):
        self.model = model
        self.logger = logging.getLogger('vqa_answer_list_hook_test')


RELEASED_LIKE = [f'a{i}' for i in range(RELEASED_SIZE)]


def test_released_size_list_passes_silently(caplog):
    hook = VQAReleasedAnswerListHook()
    with caplog.at_level(logging.WARNING):
        hook.before_train(_Runner(_Model(RELEASED_LIKE, 'answer_list.json')))
    assert hook.warnings == [] and not caplog.records


@pytest.mark.parametrize('answers, found', [
    (RELEASED_LIKE[:3100], '3100 answers instead of 3128'),
    # the standard vocabulary with its empty answer kept
    (RELEASED_LIKE + [''], '3129 answers instead of 3128'),
    (RELEASED_LIKE[:3127] + [''], "an empty answer"),
    (RELEASED_LIKE[:3127] + ['a0'], '1 duplicates'),
])
def test_other_lists_warn_naming_the_file(answers, found, caplog):
    hook = VQAReleasedAnswerListHook()
    runner = _Runner(_Model(answers, 'data/vqa/my_answers.json'))
    with caplog.at_level(logging.WARNING):
        hook.before_test(runner)
        hook.before_test(runner)  # once per answer file
    assert len(hook.warnings) == 1
    message = hook.warnings[0]
    assert message in caplog.text
    assert 'data/vqa/my_answers.json is not ALBEF' in message
    assert found in message and 'vqa_to_albef.py answer-list' in message


def test_differences_and_model_without_list():
    assert answer_list_differences(['a', 'b'], expected_size=2) == []
    assert answer_list_differences(['a', ''], expected_size=3) == [
        '2 answers instead of 3', 'an empty answer (ALBEF removed it)']
    hook = VQAReleasedAnswerListHook()
    assert hook.check(_Runner(_Model(None))) is None


@pytest.mark.parametrize('name', ['vqa.py', 'vqa_4m.py'])
def test_vqa_v2_configs_check_the_answer_list(name):
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name))
    assert cfg.model.answer_list == 'data/vqa/answer_list.json'
    types = [h['type'] for h in cfg.custom_hooks]
    assert 'VQAReleasedAnswerListHook' in types
    # the base's hooks are kept (vqa.py restates the list)
    base = Config.fromfile(osp.join(CONFIG_ROOT, '_base_', 'models',
                                    'albef_vqa.py'))
    assert types == [h['type'] for h in base.custom_hooks] + [
        'VQAReleasedAnswerListHook']
