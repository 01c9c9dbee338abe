"""How much of a VQA split the answer list can answer at all.

ALBEF answers by ranking a fixed answer list, so a question none of whose
human answers is in the list scores 0 whatever the model does; the
split's accuracy is bounded by the mean over questions of the best
accuracy any list answer reaches. :func:`answer_list_coverage` computes
both with the official accuracy (the same answer normalisation as
:func:`~.vqa_eval.question_accuracy`); :class:`VQAAnswerCoverageHook`
reports it when an evaluation starts.
"""
import logging
from typing import Dict, Iterable, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from albef_mm.registry import HOOKS
from .vqa_eval import normalize_prediction, process_punctuation, \
    question_accuracy


def answer_list_coverage(answer_list: Sequence[str],
                         gt_answers: Iterable[Sequence[str]]
                         ) -> Dict[str, float]:
    """Coverage of ``gt_answers`` (the human answers of each question) by
    ``answer_list``.

    Returns:
        dict: ``num_questions``, ``num_uncovered`` (questions where no list
        answer scores above 0), ``upper_bound`` (the best reachable VQA
        accuracy of the split in percent) and ``examples`` (up to 5 most
        frequent uncovered answers).
    """
    # a list answer as the evaluator compares a prediction
    by_norm = {}
    for answer in answer_list:
        by_norm.setdefault(normalize_prediction(answer), answer)
    total, uncovered, best_sum = 0, 0, 0.0
    missing: Dict[str, int] = {}
    for answers in gt_answers:
        answers = list(answers)
        if not answers:
            continue
        total += 1
        # the evaluator strips punctuation of the human answers when they
        # disagree; a candidate can only match one of these forms
        forms = answers if len(set(answers)) == 1 else \
            [process_punctuation(a) for a in answers]
        best = 0.0
        for form in set(forms):
            candidate = by_norm.get(normalize_prediction(form))
            if candidate is not None:
                best = max(best, question_accuracy(answers, candidate))
        if best == 0:
            uncovered += 1
            top = max(set(answers), key=answers.count)
            missing[top] = missing.get(top, 0) + 1
        best_sum += best
    examples = sorted(missing, key=lambda a: (-missing[a], a))[:5]
    return dict(num_questions=total, num_uncovered=uncovered,
                upper_bound=100.0 * best_sum / total if total else 0.0,
                examples=examples)


def coverage_message(stats: Dict[str, float], answer_file: Optional[str],
                     ann_files: Sequence[str]) -> Optional[str]:
    """The warning for ``stats`` of :func:`answer_list_coverage` (None when
    every question is answerable)."""
    if not stats['num_uncovered']:
        return None
    n, total = stats['num_uncovered'], stats['num_questions']
    where = answer_file or 'model.answer_list'
    return (
        f'VQA answer list {where} lacks every ground-truth answer of {n} of '
        f'{total} questions ({100.0 * n / total:.2f}%) of '
        f'{", ".join(ann_files)}: they score 0 whatever the model predicts, '
        f'so the accuracy of this split is at most '
        f'{stats["upper_bound"]:.2f}%. Most frequent missing answers: '
        f'{stats["examples"]}. Fix: use the answer list that belongs to '
        'these annotations (e.g. the answer_list.json of ALBEF\'s data or '
        'of tools/dataset_converters/vqa_to_albef.py), or add the missing '
        'answers to it.')


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

    Reads the model's public ``answer_list`` / ``answer_file`` and the
    dataset's ``gt_answer`` fields. Attribute ``reports`` keeps each
    computed coverage (dicts of :func:`answer_list_coverage` plus
    ``answer_file`` and ``ann_files``).
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
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        answers = getattr(model, 'answer_list', None)
        dataset = getattr(dataloader, 'dataset', None)
        if not answers or dataset is None:
            return
        answer_file = getattr(model, 'answer_file', None)
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
