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
    # answer list: the most frequent answers of training files
    python tools/dataset_converters/vqa_to_albef.py answer-list \\
        data/vqa/vqa_train.json data/vqa/vqa_val.json --top 3128 \\
        --out data/vqa/answer_list.json

Record layouts (what ``VQADataset`` reads):

* VQA train/val: ``{question_id, question, answer: [the 10 human
  answers], image: '<subtype>/COCO_<subtype>_<image_id:012d>.jpg',
  dataset: 'vqa', question_type, answer_type}`` (the official type fields
  are kept for the per-type accuracy);
* VQA test: ``{question_id, question, image, dataset: 'vqa'}``;
* VG: ``{question, answer: str, image: '<prefix><image_id>.jpg',
  dataset: 'vg'}``; answers are lower-cased with the final period removed
  (``--raw-answers`` keeps them as released).

The answer list counts every human answer (one per VG question) and
keeps the ``--top`` most frequent, most frequent first (ties in order of
first appearance).
"""
import argparse
import json
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence


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


def build_answer_list(records: Sequence[dict], top: int,
                      min_count: int = 1) -> List[str]:
    """The ``top`` most frequent answers (each human answer counts)."""
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
    p = sub.add_parser('answer-list', help='most frequent answers')
    p.add_argument('files', nargs='+')
    p.add_argument('--top', type=int, default=3128)
    p.add_argument('--min-count', type=int, default=1)
    p.add_argument('--out', required=True)
    return parser.parse_args(argv)


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
        records = []
        for path in args.files:
            records += _load(path, 'training file')
        out = build_answer_list(records, args.top, args.min_count)
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(out, f)
    print(f'wrote {len(out)} entries to {args.out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
