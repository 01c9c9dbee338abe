"""VQA answer-list coverage: questions whose ground-truth answers are all
missing from the answer list are counted and reported at evaluation start
with the split's accuracy upper bound, the file names and the fix."""
import json
import logging
import os.path as osp

import pytest
from mmengine.config import Config

from albef_mm.datasets import generate_shapes
from albef_mm.evaluation.metrics.vqa_coverage import answer_list_coverage
from albef_mm.evaluation.metrics.vqa_eval import question_accuracy
from albef_mm.registry import RUNNERS
from helpers import CONFIG_ROOT

CONFIG = osp.join(CONFIG_ROOT, 'albef', 'vqa_shapes_tiny.py')


def test_coverage_counts_and_upper_bound():
    gts = [['red'] * 10,
           ['red'] * 2 + ['blue'] * 8,    # only a minority answer listed
           ['green'] * 10,                # not answerable
           ['yes.'] * 5 + ['yes'] * 5,    # punctuation stripped (evaluator)
           []]                            # no answers: not counted
    stats = answer_list_coverage(['red', 'yes'], gts)
    assert stats['num_questions'] == 4
    assert stats['num_uncovered'] == 1
    assert stats['examples'] == ['green']
    # 1 + 0.6 (2 of 10 humans) + 0 + 1, over 4 questions
    assert question_accuracy(gts[1], 'red') == pytest.approx(0.6)
    assert stats['upper_bound'] == pytest.approx(100 * 2.6 / 4)
    full = answer_list_coverage(['red', 'blue', 'green', 'yes'], gts)
    assert full['num_uncovered'] == 0 and full['upper_bound'] == 100.0


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_warning_at_evaluation_start(tmp_path):
    shapes = str(tmp_path / 'shapes') + '/'
    generate_shapes(shapes, num_train=8, num_val=4, num_test=4)
    answers = tmp_path / 'tiny_answer_list.json'
    answers.write_text(json.dumps(['2', 'square', 'small', 'no']))
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'),
        'model.init_from_pretrain': None,
        'model.answer_list': str(answers), 'model.k_test': 4,
        'model.data_preprocessor.tokenizer.name_or_path':
        shapes + 'vocab.txt',
        'val_dataloader.num_workers': 0,
        'val_dataloader.dataset.data_root': shapes,
        'val_evaluator.baseline_ann_file': shapes + 'vqa_train.json',
    })
    cfg.train_dataloader = cfg.train_cfg = cfg.optim_wrapper = None
    cfg.param_scheduler = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    runner = RUNNERS.build(cfg)
    collect = _Collect()
    runner.logger.addHandler(collect)
    try:
        metrics = runner.val()
        runner.val()  # a second evaluation does not repeat the report
    finally:
        runner.logger.removeHandler(collect)
    val_file = osp.join(shapes, 'vqa_val.json')
    gts = [r['answer'] for r in json.load(open(val_file))]
    listed = ['2', 'square', 'small', 'no']
    # brute force: the best official accuracy any listed answer reaches
    best = [max(question_accuracy(g, a) for a in listed) for g in gts]
    uncovered = sum(b == 0 for b in best)
    bound = 100 * sum(best) / len(gts)
    assert 0 < uncovered < len(gts) and bound < 100
    warnings = [r.getMessage() for r in collect.records
                if r.levelno == logging.WARNING and 'answer list' in
                r.getMessage()]
    assert len(warnings) == 1, warnings
    msg = warnings[0]
    assert f'VQA answer list {answers} lacks every ground-truth answer of ' \
        f'{uncovered} of {len(gts)} questions ' \
        f'({100 * uncovered / len(gts):.2f}%) of {val_file}' in msg
    assert f'at most {bound:.2f}%' in msg
    assert 'Fix: use the answer list that belongs to these annotations' in msg
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'VQAAnswerCoverageHook')
    assert len(hook.reports) == 1
    assert hook.reports[0]['upper_bound'] == pytest.approx(bound)
    # the bound holds for what the model reached
    assert metrics['vqa/overall'] <= bound + 1e-6
