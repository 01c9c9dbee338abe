"""Convert the official NLVR2 annotation files into ALBEF's json files.

Input: the NLVR2 release's ``data/{train,dev,test1}.json`` (json lines,
one statement per line)::

    {"identifier": "train-10171-0-0", "sentence": "...",
     "label": "True" | "False", "directory": "55" (train only),
     "left_url": ..., "right_url": ..., "synset": ..., ...}

The two images of a statement are ``<prefix>-img0.png`` and
``<prefix>-img1.png`` where ``<prefix>`` is the identifier without its last
``-<n>`` part; they live in ``<split>/<directory>/`` (train) or
``<split>/`` (dev, test1) of the NLVR2 image folder, ``<split>`` being the
identifier's first part.

Output (``OUT_DIR``): ``nlvr_train.json``, ``nlvr_dev.json``,
``nlvr_test.json`` (from ``test1.json``, test-P), each a json list of
``{"images": [path0, path1], "sentence", "label"}`` with paths relative
to the image root of the dataset config, prefixed with ``--image-prefix``.

Example:
    python tools/dataset_converters/nlvr2_to_albef.py nlvr/nlvr2/data \\
        data/nlvr2 --image-prefix images/
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List

SPLITS = (('train.json', 'nlvr_train.json'), ('dev.json', 'nlvr_dev.json'),
          ('test1.json', 'nlvr_test.json'))


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


def convert_record(rec: dict, image_prefix: str = '',
                   where: str = 'record') -> Dict:
    """One NLVR2 statement → ``{"images", "sentence", "label"}``."""
    for key in ('identifier', 'sentence', 'label'):
        if key not in rec:
            raise KeyError(f'{where}: missing key "{key}" (keys: '
                           f'{sorted(rec)}); is this an NLVR2 file?')
    label = rec['label']
    if isinstance(label, bool):
        label = 'True' if label else 'False'
    if label not in ('True', 'False'):
        raise ValueError(f'{where}: label must be "True" or "False", got '
                         f'{rec["label"]!r}')
    ident = rec['identifier']
    parts = ident.split('-')
    if len(parts) < 3:
        raise ValueError(f'{where}: identifier {ident!r} is not of the form '
                         '<split>-<set>-<pair>-<sentence>')
    prefix = ident.rsplit('-', 1)[0]
    folder = parts[0]
    if rec.get('directory') not in (None, ''):
        folder = f'{folder}/{rec["directory"]}'
    images = [f'{image_prefix}{folder}/{prefix}-img{k}.png' for k in (0, 1)]
    return dict(images=images, sentence=rec['sentence'], label=label)


def convert_file(path: str, image_prefix: str = '') -> List[dict]:
    return [convert_record(rec, image_prefix, f'{path}, line {i + 1}')
            for i, rec in enumerate(read_jsonl(path))]


def main(argv=None) -> Dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('nlvr2_dir', help='folder with train.json, dev.json '
                        'and/or test1.json (json lines)')
    parser.add_argument('out_dir', help='where nlvr_*.json are written')
    parser.add_argument('--image-prefix', default='',
                        help='prepended to every image path (e.g. images/)')
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    counts = {}
    for src, dst in SPLITS:
        path = osp.join(args.nlvr2_dir, src)
        if not osp.isfile(path):
            continue
        records = convert_file(path, args.image_prefix)
        with open(osp.join(args.out_dir, dst), 'w', encoding='utf-8') as f:
            json.dump(records, f)
        counts[dst] = len(records)
        print(f'{path}: {len(records)} statements -> {dst}')
    if not counts:
        raise SystemExit(f'no NLVR2 file ({", ".join(s for s, _ in SPLITS)})'
                         f' found in {args.nlvr2_dir}')
    return counts


if __name__ == '__main__':
    main()
