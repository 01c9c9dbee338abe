"""Convert the official SNLI-VE annotation files into ALBEF's json files.

Input: ``snli_ve_{train,dev,test}.jsonl`` of the SNLI-VE release (json
lines, one hypothesis per line; the SNLI fields plus the image)::

    {"Flikr30kID": "3416050480.jpg", "sentence2": "hypothesis",
     "gold_label": "entailment" | "neutral" | "contradiction",
     "sentence1": "premise caption", "pairID": ..., ...}

Output (``OUT_DIR``): ``ve_train.json``, ``ve_dev.json``, ``ve_test.json``,
each a json list of ``{"image": Flickr30K id without extension,
"sentence": hypothesis, "label"}`` (the image file is
``<image root>/<image>.jpg``). The premise caption is not used (ALBEF
reads the image instead).

Example:
    python tools/dataset_converters/snli_ve_to_albef.py SNLI-VE/data \\
        data/snli_ve
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List

SPLITS = (('snli_ve_train.jsonl', 've_train.json'),
          ('snli_ve_dev.jsonl', 've_dev.json'),
          ('snli_ve_test.jsonl', 've_test.json'))
LABELS = ('entailment', 'neutral', 'contradiction')
# the release spells the image key "Flikr30kID"
IMAGE_KEYS = ('Flikr30kID', 'Flickr30kID', 'Flickr30K_ID')


def read_jsonl(path: str) -> List[dict]:
    """Records of a json-lines file; errors name the file and line."""
    records = []
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}, line {n}: not valid json ({err})'
                                 ) from err
    return records


def convert_record(rec: dict, where: str = 'record') -> Dict:
    """One SNLI-VE line → ``{"image", "sentence", "label"}``."""
    key = next((k for k in IMAGE_KEYS if k in rec), None)
    if key is None:
        raise KeyError(f'{where}: no image key ({" / ".join(IMAGE_KEYS)}) '
                       f'in {sorted(rec)}; is this an SNLI-VE file?')
    for k in ('sentence2', 'gold_label'):
        if k not in rec:
            raise KeyError(f'{where}: missing key "{k}" (keys: '
                           f'{sorted(rec)})')
    if rec['gold_label'] not in LABELS:
        raise ValueError(f'{where}: gold_label {rec["gold_label"]!r} is not '
                         f'one of {LABELS}')
    image = osp.splitext(str(rec[key]))[0]
    return dict(image=image, sentence=rec['sentence2'],
                label=rec['gold_label'])


def convert_file(path: str) -> List[dict]:
    return [convert_record(rec, f'{path}, line {i + 1}')
            for i, rec in enumerate(read_jsonl(path))]


def main(argv=None) -> Dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('snli_ve_dir', help='folder with '
                        'snli_ve_{train,dev,test}.jsonl')
    parser.add_argument('out_dir', help='where ve_*.json are written')
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    counts = {}
    for src, dst in SPLITS:
        path = osp.join(args.snli_ve_dir, src)
        if not osp.isfile(path):
            continue
        records = convert_file(path)
        with open(osp.join(args.out_dir, dst), 'w', encoding='utf-8') as f:
            json.dump(records, f)
        counts[dst] = len(records)
        print(f'{path}: {len(records)} hypotheses -> {dst}')
    if not counts:
        raise SystemExit(f'no SNLI-VE file ({", ".join(s for s, _ in SPLITS)})'
                         f' found in {args.snli_ve_dir}')
    return counts


if __name__ == '__main__':
    main()
