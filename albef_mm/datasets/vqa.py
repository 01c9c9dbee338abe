"""VQA annotations in ALBEF's json format (``vqa_train.json``,
``vqa_val.json``, ``vg_qa.json``, ``vqa_test.json``).
``tools/dataset_converters/vqa_to_albef.py`` writes them from the official
VQA v2 files and Visual Genome's question answers."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset

from albef_mm.registry import DATASETS
from .transforms.loading import ImageLoadError
from .transforms.text import clean_text, pre_question
from .utils import build_pipeline, load_json_list

VG_ANSWER_WEIGHT = 0.5


def answer_weights(answers: Sequence[str]) -> Tuple[List[str], List[float]]:
    """Distinct answers in order of first appearance and their weights
    ``count / len(answers)`` (summed one ``1/len`` at a time, as ALBEF)."""
    weights: Dict[str, float] = {}
    for answer in answers:
        weights[answer] = weights.get(answer, 0.0) + 1 / len(answers)
    return list(weights), list(weights.values())


def check_question_id(qid, where: str) -> None:
    """Raise unless ``qid`` is an integer (not a bool) or a non-empty
    string, the id types of the VQA result file (so ids compare exactly:
    ``1.0``, ``True`` and ``1`` would be one dictionary key); ``where``
    starts the message."""
    if isinstance(qid, bool) or not isinstance(qid, (int, str)) or \
            qid == '':
        raise ValueError(f'{where}: "question_id" must be an integer or a '
                         f'non-empty string, got {qid!r}')


def check_answer_list(answers: Sequence[str], source: str) -> None:
    """Raise unless the candidate answers of the ranking are distinct and
    non-empty: a duplicate splits its score between its copies (with
    ``['red', 'red', 'red', 'blue']`` the decoder's favourite ``red`` can
    lose to ``blue``) and an empty answer ranks the bare end token;
    ``source`` (the file or the config key) starts the message."""
    seen = {}
    for i, answer in enumerate(answers):
        if not answer.strip():
            raise ValueError(f'{source}: answer {i} is empty ({answer!r}); '
                             'remove it from the answer list')
        if answer in seen:
            raise ValueError(f'{source}: answer {answer!r} appears twice '
                             f'(entries {seen[answer]} and {i}); keep one '
                             'copy of each answer')
        seen[answer] = i


def _resolve(path: str, root: str) -> str:
    return path if osp.isabs(path) or not root else osp.join(root, path)


@DATASETS.register_module()
class VQADataset(BaseDataset):
    """Visual question answering records of ALBEF.

    Record fields: ``question``, ``image`` (relative to the root of its
    ``dataset``), ``dataset`` ∈ {``'vqa'``, ``'vg'``} (selects
    ``data_prefix['vqa']`` or ``data_prefix['vg']``), ``answer`` (train: a
    list of the human answers for ``vqa``, one string for ``vg``) and
    ``question_id`` (test). Official fields ``question_type`` /
    ``answer_type`` are passed on when present.

    **Train** (``test_mode=False``): the question is cleaned with
    :func:`pre_question` (``max_words``, 30); ``vqa`` answers become the
    distinct answers with weight count / number of answers, a ``vg``
    answer gets weight 0.5. Fields: ``img_path``, ``text``, ``gt_answer``
    (list[str]), ``gt_answer_weight`` (list[float]), ``question_id`` when
    present. (The model appends the end token ``[SEP]``.)

    **Test** (``test_mode=True``): the question is cleaned with
    ``test_max_words`` (50); fields ``img_path``, ``text``, ``question_id``
    and, when the record has answers (a val split), ``gt_answer`` (the raw
    human answers, for :class:`VQAAccuracy`) plus the official type fields.

    Errors name the file and record index (missing key, unknown
    ``dataset``, bad answers, a question that is empty once cleaned, a
    ``question_id`` that is not an integer or a string (a float, NaN, a
    bool), test record without ``question_id``, two test records with the
    same ``question_id``); a missing image raises :class:`ImageLoadError`
    at read time.

    Args:
        ann_file (str | Sequence[str]): Annotation json file(s), relative
            to ``data_root`` unless absolute; concatenated in order.
        data_root (str): Root of the data. Defaults to ''.
        data_prefix (dict): Image roots ``vqa`` (COCO images) and ``vg``
            (Visual Genome images). Defaults to ``dict(vqa='', vg='')``.
        pipeline (Sequence): Transforms. Defaults to ().
        max_words (int): Question words kept in training (30).
        test_max_words (int): Question words kept in test mode (50).
        test_mode (bool): Test format. Defaults to False.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self, ann_file: Union[str, Sequence[str]],
                 data_root: str = '',
                 data_prefix: dict = dict(vqa='', vg=''),
                 pipeline: Sequence = (), max_words: int = 30,
                 test_max_words: int = 50, test_mode: bool = False,
                 **kwargs) -> None:
        files = [ann_file] if isinstance(ann_file, str) else list(ann_file)
        if not files:
            raise ValueError('VQADataset: ann_file is empty')
        self.ann_files = [_resolve(f, data_root) for f in files]
        self.max_words = max_words
        self.test_max_words = test_max_words
        super().__init__(ann_file='', data_root=data_root,
                         data_prefix=dict(dict(vqa='', vg=''), **data_prefix),
                         pipeline=build_pipeline(pipeline),
                         test_mode=test_mode, **kwargs)

    def _record(self, rec, where: str) -> dict:
        if not isinstance(rec, dict):
            raise ValueError(f'{where}: expected a dict, got '
                             f'{type(rec).__name__}')
        need = ('question', 'image', 'dataset') + \
            (('question_id', ) if self.test_mode else ('answer', ))
        for key in need:
            if key not in rec:
                raise KeyError(f'{where}: missing key "{key}" (record keys: '
                               f'{sorted(rec)})')
        source = rec['dataset']
        if source not in ('vqa', 'vg'):
            raise ValueError(f'{where}: "dataset" must be "vqa" or "vg", '
                             f'got {source!r}')
        info = dict(img_path=_resolve(rec['image'],
                                      self.data_prefix.get(source, '')))
        if 'question_id' in rec:
            check_question_id(rec['question_id'], where)
        for key in ('question_id', 'question_type', 'answer_type'):
            if key in rec:
                info[key] = rec[key]
        words = self.test_max_words if self.test_mode else self.max_words
        info['text'] = clean_text(rec['question'], where, pre_question,
                                  words, 'question')
        answer = rec.get('answer')
        if answer is None:
            return info
        if source == 'vqa':
            if not isinstance(answer, list) or not answer or not all(
                    isinstance(a, str) for a in answer):
                raise ValueError(f'{where}: a "vqa" record needs "answer" as '
                                 'a non-empty list of strings, got '
                                 f'{answer!r}')
        elif not isinstance(answer, str):
            raise ValueError(f'{where}: a "vg" record needs "answer" as one '
                             f'string, got {answer!r}')
        if self.test_mode:
            info['gt_answer'] = answer if source == 'vqa' else [answer]
        elif source == 'vqa':
            info['gt_answer'], info['gt_answer_weight'] = \
                answer_weights(answer)
        else:
            info['gt_answer'] = [answer]
            info['gt_answer_weight'] = [VG_ANSWER_WEIGHT]
        return info

    def load_data_list(self) -> List[dict]:
        data_list, seen = [], {}
        for path in self.ann_files:
            for i, rec in enumerate(load_json_list(path)):
                where = f'{path}, record {i}'
                info = self._record(rec, where)
                if self.test_mode:  # one answer per id in the result file
                    qid = info['question_id']
                    first = seen.setdefault(qid, where)
                    if first != where:
                        raise ValueError(
                            f'{where}: question_id {qid!r} is also the id of '
                            f'{first}; every question needs its own id (the '
                            'result file has one answer per id)')
                data_list.append(info)
        if not data_list:
            raise ValueError(f'VQADataset: no records in {self.ann_files}')
        return data_list

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Check the image file of sample ``idx``, then run the pipeline."""
        info = self.get_data_info(idx)
        if not osp.isfile(info['img_path']):
            raise ImageLoadError(
                f'Image file not found: {info["img_path"]} (dataset index '
                f'{idx}, annotation file(s) {", ".join(self.ann_files)}). '
                'Check `data_root` / `data_prefix` (vqa, vg).')
        return self.pipeline(info)
