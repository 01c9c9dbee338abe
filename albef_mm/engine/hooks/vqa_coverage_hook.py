"""Warn when a VQA evaluation split has questions the answer list cannot
answer."""
import logging

from mmengine.hooks import Hook

from albef_mm.evaluation.metrics.vqa_coverage import (answer_list_coverage,
                                                      coverage_message)
from albef_mm.registry import HOOKS
from ..utils import unwrap_model


@HOOKS.register_module()
class VQAAnswerCoverageHook(Hook):
    """At the start of a validation or test run, count the questions of the
    split none of whose ground-truth answers is in the model's answer list
    (they score 0: ALBEF ranks the list) and log a warning with the count,
    the split's accuracy upper bound, the file names and the fix. Logged
    once per (answer list, annotation files) pair; an info line when every
    question is covered; nothing for a split without answers (the test
    server split). No config keys (``custom_hooks`` of
    ``configs/_base_/models/albef_vqa.py``).

    Attribute ``reports`` keeps each computed coverage (dicts of
    :func:`~albef_mm.evaluation.metrics.vqa_coverage.answer_list_coverage`
    plus ``answer_file`` and ``ann_files``).
    """

    priority = 'LOW'

    def __init__(self):
        self.reports = []
        self._done = set()

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader)

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader)

    def _check(self, runner, dataloader) -> None:
        model = unwrap_model(runner.model)
        answers = getattr(model, 'answer_list', None)
        dataset = getattr(dataloader, 'dataset', None)
        if not answers or dataset is None:
            return
        answer_file = getattr(model, '_answer_file', None)
        ann_files = list(getattr(dataset, 'ann_files', None) or
                         [str(getattr(dataset, 'ann_file', '?'))])
        key = (answer_file or id(answers), tuple(ann_files))
        if key in self._done:
            return
        self._done.add(key)
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        gts = [dataset.get_data_info(i).get('gt_answer')
               for i in range(len(dataset))]
        gts = [g for g in gts if g]
        if not gts:
            return  # no ground truth in this split
        stats = answer_list_coverage(answers, gts)
        self.reports.append(dict(stats, answer_file=answer_file,
                                 ann_files=ann_files))
        message = coverage_message(stats, answer_file, ann_files)
        if message is None:
            runner.logger.info(
                f'VQA answer list covers all {stats["num_questions"]} '
                f'questions of {", ".join(ann_files)}')
        else:
            runner.logger.warning(message)
            if len(gts) < len(dataset):
                runner.logger.log(
                    logging.WARNING, f'{len(dataset) - len(gts)} questions '
                    'without ground-truth answers were not counted')
