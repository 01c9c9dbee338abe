"""Write ALBEF's VQA json files from the official releases.

Sub-commands::

    # VQA v2 (questions + annotations; test splits have no annotations)
    python tools/dataset_converters/vqa_to_albef.py vqa \\
        --questions v2_OpenEnded_mscoco_train2014_questions.json \\
        --annotations v2_mscoco_train2014_annotations.json \\
        --out data/vqa/vqa_train.json
    python tools/dataset_converters/vqa_to_albef.py vqa \\
        --questions v2_OpenEnded_mscoco_test2015_questions.json \\
        --out data/vqa/vqa_test.json
    # Visual Genome question answers (question_answers.json)
    python tools/dataset_converters/vqa_to_albef.py vg \\
        --qa question_answers.json --out data/vqa/vg_qa.json
    # answer list, the standard VQA v2 recipe (official annotations)
    python tools/dataset_converters/vqa_to_albef.py answer-list \\
        --annotations v2_mscoco_train2014_annotations.json \\
        v2_mscoco_val2014_annotations.json \\
        --out data/vqa/answer_list_standard.json

Record layouts (what ``VQADataset`` reads):

* VQA train/val: ``{question_id, question, answer: [the 10 human
  answers], image: '<subtype>/COCO_<subtype>_<image_id:012d>.jpg',
  dataset: 'vqa', question_type, answer_type}`` (the official type fields
  are kept for the per-type accuracy);
* VQA test: ``{question_id, question, image, dataset: 'vqa'}``;
* VG: ``{question, answer: str, image: '<prefix><image_id>.jpg',
  dataset: 'vg'}``; answers are lower-cased with the final period removed
  (``--raw-answers`` keeps them as released).

The answer list. ALBEF's released ``answer_list.json`` (in its
data.tar.gz; ``configs/albef/vqa.py`` reads it from
``data/vqa/answer_list.json``) holds 3,128 answers: "the same 3,129
answers as existing methods" with one empty answer removed (ALBEF issue
#40, the author). The 3,129-answer vocabulary of those methods
(bottom-up-attention-vqa ``tools/compute_softscore.py``, used by Pythia /
MMF and UNITER) is made by :func:`standard_answer_list`, the default
here: over the train2014 + val2014 annotations, each question's
``multiple_choice_answer`` normalised as the VQA evaluation normalises
answers (punctuation, number words, articles, contractions; commas
removed), kept when at least 9 distinct questions have it. This recipe is
stated exactly, but its output has not been compared with the released
file here (no copy offline); the order of the entries (first appearance
here, a Python 2 dict order in the original) only decides ties. A recount
of the most frequent human answers (``--top N`` on ALBEF-format files, the
earlier default) is an approximation that differs from the released list
by about 300 answers (ALBEF issue #135): use it only for data without the
official annotations.

Visual Genome: ALBEF's released ``vg_qa.json`` is documented only as "QA
pairs from Visual Genome" (paper; record layout
``{question, answer: str, image, dataset: 'vg'}``); which pairs it keeps
and how its answers were normalised is not published. ``vg`` converts every
pair of ``question_answers.json`` (answers lower-cased, final period
removed): an approximation of the released file.
"""
import argparse
import json
import os.path as osp
import sys
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from albef_mm.evaluation.metrics.vqa_eval import (  # noqa: E402
    process_digit_article, process_punctuation)

# the standard vocabulary: answers of at least this many questions
STANDARD_MIN_QUESTIONS = 9


def _load(path: str, what: str):
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def coco_image(image_id: int, subtype: str) -> str:
    """Relative path of a COCO image of the VQA release."""
    return f'{subtype}/COCO_{subtype}_{int(image_id):012d}.jpg'


def convert_vqa(questions: dict, annotations: Optional[dict] = None,
                source: str = 'questions') -> List[dict]:
    """Official VQA v2 question (+ annotation) dicts → ALBEF records."""
    if 'questions' not in questions:
        raise KeyError(f'{source}: no "questions" list (is this a VQA '
                       'questions file?)')
    subtype = questions.get('data_subtype')
    if not subtype:
        raise KeyError(f'{source}: no "data_subtype" (e.g. train2014), '
                       'needed for the image file names')
    anns: Dict[int, dict] = {}
    if annotations is not None:
        anns = {a['question_id']: a for a in annotations['annotations']}
    out = []
    for i, q in enumerate(questions['questions']):
        rec = dict(question_id=q['question_id'], question=q['question'],
                   image=coco_image(q['image_id'], subtype), dataset='vqa')
        if annotations is not None:
            ann = anns.get(q['question_id'])
            if ann is None:
                raise KeyError(f'{source}: question {i} (id '
                               f'{q["question_id"]}) has no annotation')
            rec['answer'] = [a['answer'] for a in ann['answers']]
            rec['question_type'] = ann['question_type']
            rec['answer_type'] = ann['answer_type']
        out.append(rec)
    return out


def clean_vg_answer(answer: str) -> str:
    answer = answer.strip().lower()
    return answer[:-1].rstrip() if answer.endswith('.') else answer


def convert_vg(qa: list, image_prefix: str = 'image/',
               raw_answers: bool = False) -> List[dict]:
    """Visual Genome ``question_answers.json`` → ALBEF records."""
    out = []
    for entry in qa:
        for item in entry.get('qas', []):
            answer = item['answer'] if raw_answers else \
                clean_vg_answer(item['answer'])
            image_id = item.get('image_id', entry.get('id'))
            out.append(dict(question=item['question'], answer=answer,
                            image=f'{image_prefix}{image_id}.jpg',
                            dataset='vg'))
    return out


def normalize_vocabulary_answer(answer: str) -> str:
    """An answer as the standard vocabulary spells it (compute_softscore's
    ``preprocess_answer``): the VQA evaluation's punctuation and
    digit/article processing, then commas removed."""
    return process_digit_article(process_punctuation(answer)).replace(
        ',', '')


def standard_answer_list(annotations: Iterable[dict],
                         min_questions: int = STANDARD_MIN_QUESTIONS,
                         drop_empty: bool = True) -> List[str]:
    """The standard VQA v2 answer vocabulary from official annotation
    records (``question_id``, ``multiple_choice_answer``): the normalised
    ``multiple_choice_answer`` values of at least ``min_questions``
    distinct questions, in order of first appearance; the empty answer is
    dropped (as ALBEF dropped it) unless ``drop_empty=False``. With the
    train2014 + val2014 annotations: 3,129 answers before dropping."""
    questions: Dict[str, set] = {}
    for i, ann in enumerate(annotations):
        if 'multiple_choice_answer' not in ann or 'question_id' not in ann:
            raise KeyError(
                f'annotation {i} has no multiple_choice_answer / question_id:'
                ' pass the official VQA v2 annotation files '
                '(v2_mscoco_*_annotations.json)')
        answer = normalize_vocabulary_answer(ann['multiple_choice_answer'])
        questions.setdefault(answer, set()).add(ann['question_id'])
    return [a for a, ids in questions.items()
            if len(ids) >= min_questions and (a or not drop_empty)]


def build_answer_list(records: Sequence[dict], top: int,
                      min_count: int = 1) -> List[str]:
    """The ``top`` most frequent answers (each human answer counts): an
    approximation of the standard vocabulary (see the module docstring)."""
    counts = Counter()
    for rec in records:
        answers = rec['answer'] if isinstance(rec['answer'], list) \
            else [rec['answer']]
        counts.update(answers)
    ranked = [a for a, c in counts.most_common() if c >= min_count]
    return ranked[:top]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('vqa', help='official VQA v2 files')
    p.add_argument('--questions', required=True)
    p.add_argument('--annotations', default=None)
    p.add_argument('--out', required=True)
    p = sub.add_parser('vg', help='Visual Genome question_answers.json')
    p.add_argument('--qa', required=True)
    p.add_argument('--image-prefix', default='image/')
    p.add_argument('--raw-answers', action='store_true')
    p.add_argument('--out', required=True)
    p = sub.add_parser(
        'answer-list', help='the standard VQA v2 answer vocabulary from the '
        'official annotations (--annotations), or an approximation from '
        'ALBEF-format files (FILES --top N)')
    p.add_argument('files', nargs='*',
                   help='ALBEF-format training files (with --top)')
    p.add_argument('--annotations', nargs='+', default=None,
                   help='official annotation files (train2014 + val2014)')
    p.add_argument('--min-questions', type=int,
                   default=STANDARD_MIN_QUESTIONS)
    p.add_argument('--keep-empty', action='store_true',
                   help='keep the empty answer (ALBEF removed it)')
    p.add_argument('--top', type=int, default=None,
                   help='most frequent answers of FILES (approximation)')
    p.add_argument('--min-count', type=int, default=1)
    p.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    if args.cmd == 'answer-list' and (bool(args.annotations) ==
                                      bool(args.files)):
        parser.error('answer-list: give either --annotations (the standard '
                     'recipe) or ALBEF-format FILES with --top N')
    if args.cmd == 'answer-list' and args.files and args.top is None:
        parser.error('answer-list FILES: --top N is required (the recount '
                     'of the most frequent answers)')
    return args


def answer_list_from_args(args) -> List[str]:
    """The ``answer-list`` sub-command's list (prints which recipe)."""
    if args.annotations:
        anns = []
        for path in args.annotations:
            data = _load(path, 'annotation file')
            if not isinstance(data, dict) or 'annotations' not in data:
                raise KeyError(f'{path}: no "annotations" list (is this an '
                               'official VQA v2 annotation file?)')
            anns += data['annotations']
        print(f'standard recipe: normalised multiple_choice_answer of >= '
              f'{args.min_questions} questions'
              + ('' if args.keep_empty else ', empty answer dropped'))
        return standard_answer_list(anns, args.min_questions,
                                    not args.keep_empty)
    records = []
    for path in args.files:
        records += _load(path, 'training file')
    print(f'approximation: the {args.top} most frequent human answers, not '
          'the standard vocabulary (use --annotations for that)')
    return build_answer_list(records, args.top, args.min_count)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.cmd == 'vqa':
        anns = _load(args.annotations, 'annotation file') \
            if args.annotations else None
        out = convert_vqa(_load(args.questions, 'questions file'), anns,
                          args.questions)
    elif args.cmd == 'vg':
        out = convert_vg(_load(args.qa, 'VG question answers'),
                         args.image_prefix, args.raw_answers)
    else:
        out = answer_list_from_args(args)
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(out, f)
    print(f'wrote {len(out)} entries to {args.out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
