"""VQA metrics: official VQA accuracy (with a per-question-type
most-frequent-answer baseline) and the result file of the test server."""
import json
import os.path as osp
from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from albef_mm.datasets.utils import load_json_list
from albef_mm.datasets.vqa import check_question_id
from albef_mm.utils.atomic_io import atomic_write_text
from albef_mm.registry import METRICS
from .vqa_eval import aggregate, question_accuracy


def _get(sample, key):
    if isinstance(sample, dict):
        return sample.get(key)
    return getattr(sample, key, None)


def derive_question_type(question: str, words: int) -> str:
    """First ``words`` words of the (cleaned) question, for annotation files
    without the official ``question_type`` field."""
    return ' '.join(question.lower().split()[:words])


def derive_answer_type(answers: Sequence[str]) -> str:
    """'yes/no', 'number' or 'other' from the most frequent human answer,
    for annotation files without the official ``answer_type`` field."""
    top = Counter(answers).most_common(1)[0][0].strip().lower()
    if top in ('yes', 'no'):
        return 'yes/no'
    return 'number' if top.isdigit() else 'other'


@METRICS.register_module()
class VQAAccuracy(BaseMetric):
    """VQA accuracy as the official evaluator computes it.

    Reads, per predicted sample: ``question_id``, ``pred_answer``,
    ``gt_answer`` (the raw human answers, usually ten), and
    ``question_type`` / ``answer_type`` when the annotation has them
    (official VQA v2); otherwise the question type is the first
    ``question_type_words`` words of ``text`` and the answer type is derived
    from the most frequent answer (yes/no, number, other). Questions are
    de-duplicated by id (distributed padding). Reports ``overall``,
    ``answer_type/<t>`` and ``question_type/<t>`` in percent, rounded as
    the evaluator does (see :mod:`.vqa_eval` for its quirks, which are
    reproduced). With ``baseline_ann_file`` (training annotations), also
    ``baseline/...``: the accuracy of answering the most frequent training
    answer of each question type (the global one for unseen types).

    Config keys:
        question_type_words (int): Words of a derived question type (3).
        baseline_ann_file (str | list[str], optional): Training json(s)
            in ALBEF's VQA format for the baseline.
        precision (int): Decimal places (2, as the evaluator).
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str): Metric name prefix (``'vqa'``).
    """

    default_prefix = 'vqa'

    def __init__(self, question_type_words: int = 3,
                 baseline_ann_file: Union[None, str, Sequence[str]] = None,
                 precision: int = 2, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.question_type_words = question_type_words
        if isinstance(baseline_ann_file, str):
            baseline_ann_file = [baseline_ann_file]
        self.baseline_ann_file = baseline_ann_file
        self.precision = precision

    def _types(self, sample, answers) -> tuple:
        q_type = _get(sample, 'question_type')
        if q_type is None:
            q_type = derive_question_type(_get(sample, 'text') or '',
                                          self.question_type_words)
        a_type = _get(sample, 'answer_type') or derive_answer_type(answers)
        return q_type, a_type

    def process(self, data_batch, data_samples: Sequence) -> None:
        for i, sample in enumerate(data_samples):
            answers, pred = _get(sample, 'gt_answer'), \
                _get(sample, 'pred_answer')
            if not answers or pred is None:
                raise KeyError(
                    f'VQAAccuracy: sample {i} of a batch lacks gt_answer or '
                    'pred_answer: evaluate a split with answers (VQADataset '
                    "with test_mode=True packs 'gt_answer' when the records "
                    'have them); for the test split use VQAResultWriter')
            q_type, a_type = self._types(sample, answers)
            self.results.append(dict(
                question_id=_get(sample, 'question_id'), answer=pred,
                gt=list(answers), question_type=q_type, answer_type=a_type))

    def baseline_answers(self) -> Dict[str, str]:
        """Most frequent training answer per question type (key '' holds
        the overall most frequent one)."""
        counts: Dict[str, Counter] = {}
        total = Counter()
        for path in self.baseline_ann_file:
            for rec in load_json_list(path):
                answers = rec['answer'] if isinstance(rec['answer'], list) \
                    else [rec['answer']]
                q_type = rec.get('question_type') or derive_question_type(
                    rec['question'], self.question_type_words)
                counts.setdefault(q_type, Counter()).update(answers)
                total.update(answers)
        best = {q: c.most_common(1)[0][0] for q, c in counts.items()}
        best[''] = total.most_common(1)[0][0]
        return best

    def _scores(self, results: List[dict], key: Optional[str] = None,
                answers: Optional[Dict[str, str]] = None) -> Dict:
        rows = []
        for r in results:
            pred = r['answer'] if answers is None else answers.get(
                r['question_type'], answers[''])
            rows.append((question_accuracy(r['gt'], pred),
                         r['question_type'], r['answer_type']))
        return aggregate(rows, self.precision)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        unique = OrderedDict()
        for r in results:
            qid = r['question_id']
            unique.setdefault(len(unique) if qid is None else qid, r)
        results = list(unique.values())
        out = OrderedDict()
        sets = [('', None)]
        if self.baseline_ann_file:
            sets.append(('baseline/', self.baseline_answers()))
        for head, answers in sets:
            acc = self._scores(results, answers=answers)
            out[head + 'overall'] = acc['overall']
            for t, v in acc['perAnswerType'].items():
                out[f'{head}answer_type/{t}'] = v
            for t, v in acc['perQuestionType'].items():
                out[f'{head}question_type/{t}'] = v
        out['num_questions'] = len(results)
        return out


def _is_result_file(path: str) -> bool:
    """True when ``path`` holds what :class:`VQAResultWriter` writes (a
    json list of ``{question_id, answer}``): a file a previous run made,
    which a new run may replace."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(data, list) and all(
        isinstance(r, dict) and set(r) == {'question_id', 'answer'}
        for r in data)


@METRICS.register_module()
class VQAResultWriter(BaseMetric):
    """Writes the result file of the VQA evaluation server:
    ``[{"question_id": id, "answer": str}, ...]``, one entry per question
    of ``ann_file`` in its order, each id exactly as the annotation holds
    it.

    Duplicate question ids (padding of the distributed sampler) are
    removed (the first prediction is kept); ids are kept as they are, an
    integer or a string (``"007"`` and ``7`` are two ids; a float or a
    bool such as ``1.9`` or ``True``, which ``int()`` used to merge with
    ``1``, is refused). The ids are checked against the test annotation: an id
    that is not an integer or a string, an id shared by two questions, and
    a missing or unknown id raise, naming them (the server needs one
    answer for every test question).

    The file is written atomically. A bare file name (no folder) is
    placed in the runner's work dir (``--work-dir``) when run by the
    :class:`~albef_mm.engine.runner.ALBEFRunner`, else in the current
    directory; a path with a folder is used as given. It refuses to write
    over the annotation file, through a symbolic link, or over an existing
    file that is not a result file of an earlier run (``overwrite=True``
    allows the last).

    Config keys:
        ann_file (str): The test annotation json (records with
            ``question_id``).
        out_file (str): Where to write the result json
            (``'vqa_result.json'``, in the work dir).
        overwrite (bool): Replace an existing ``out_file`` of any content
            (not the annotation file, not a link). Defaults to False.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str): Metric name prefix (``'vqa_result'``).
    """

    default_prefix = 'vqa_result'

    def __init__(self, ann_file: str, out_file: str = 'vqa_result.json',
                 overwrite: bool = False, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file
        self.out_file = out_file
        self.overwrite = overwrite
        self.work_dir: Optional[str] = None

    def set_work_dir(self, work_dir: str) -> None:
        """Place an ``out_file`` given as a bare file name in ``work_dir``
        (called by the runner when it builds the evaluator)."""
        self.work_dir = work_dir

    @property
    def out_path(self) -> str:
        """Where the result file goes."""
        if self.work_dir and not osp.dirname(self.out_file):
            return osp.join(self.work_dir, self.out_file)
        return self.out_file

    def process(self, data_batch, data_samples: Sequence) -> None:
        for i, sample in enumerate(data_samples):
            qid, pred = _get(sample, 'question_id'), \
                _get(sample, 'pred_answer')
            if qid is None or pred is None:
                raise KeyError(f'VQAResultWriter: sample {i} of a batch '
                               'lacks question_id or pred_answer')
            check_question_id(qid, f'VQAResultWriter: sample {i} of a batch')
            self.results.append((qid, pred))

    def _expected_ids(self) -> list:
        ids, first = [], {}
        for i, rec in enumerate(load_json_list(self.ann_file)):
            where = f'{self.ann_file}, record {i}'
            qid = rec['question_id']
            check_question_id(qid, where)
            other = first.setdefault(qid, where)
            if other != where:
                raise ValueError(
                    f'{where}: question_id {qid!r} is also the id of {other};'
                    ' two questions with one id would get one answer in the '
                    'result file: give every question its own id')
            ids.append(qid)
        return ids

    def _check_out_path(self, path: str) -> None:
        if osp.islink(path):
            raise FileExistsError(
                f'VQAResultWriter: out_file {path} is a symbolic link; '
                'refusing to write through it (it would replace '
                f'{osp.realpath(path)}): choose another out_file')
        if not osp.exists(path):
            return
        if osp.samefile(path, self.ann_file):
            raise FileExistsError(
                f'VQAResultWriter: out_file {path} is the annotation file '
                f'{self.ann_file}; choose another out_file')
        if not self.overwrite and not _is_result_file(path):
            raise FileExistsError(
                f'VQAResultWriter: out_file {path} exists and is not a VQA '
                'result file of an earlier run; choose another out_file or '
                'set overwrite=True to replace it')

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        preds = OrderedDict()
        for qid, answer in results:
            preds.setdefault(qid, answer)
        expected = self._expected_ids()
        missing = [q for q in expected if q not in preds]
        known = set(expected)
        unknown = [q for q in preds if q not in known]
        if missing or unknown:
            raise ValueError(
                f'VQAResultWriter: the predictions do not cover '
                f'{self.ann_file}: {len(missing)} question ids without an '
                f'answer (e.g. {missing[:5]}), {len(unknown)} ids not in '
                f'the file (e.g. {unknown[:5]}); evaluate the whole test '
                'split with the same annotation file')
        out = [dict(question_id=q, answer=preds[q])
               for q in expected]
        path = self.out_path
        self._check_out_path(path)
        atomic_write_text(path, json.dumps(out))
        print_log(f'VQA result file with {len(out)} answers: {path}',
                  logger='current')
        return dict(num_questions=len(out),
                    duplicates_removed=len(results) - len(preds))


__all__ = ['VQAAccuracy', 'VQAResultWriter']
