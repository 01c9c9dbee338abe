"""How much of a VQA split the answer list can answer at all.

ALBEF answers by ranking a fixed answer list, so a question none of whose
human answers is in the list scores 0 whatever the model does; the
split's accuracy is bounded by the mean over questions of the best
accuracy any list answer reaches. :func:`answer_list_coverage` computes
both with the official accuracy (the same answer normalisation as
:func:`~.vqa_eval.question_accuracy`).
"""
from typing import Dict, Iterable, Optional, Sequence

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
