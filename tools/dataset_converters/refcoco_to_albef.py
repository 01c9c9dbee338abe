"""Convert the official ``refer`` annotations (RefCOCO, RefCOCO+, RefCOCOg)
into ALBEF's grounding files.

Usage:
    python tools/dataset_converters/refcoco_to_albef.py REFER_ROOT OUT_DIR
        [--dataset refcoco+] [--split-by unc] [--image-prefix train2014/]

REFER_ROOT holds ``<dataset>/refs(<split_by>).p`` and
``<dataset>/instances.json`` (https://github.com/lichengunc/refer). Writes
into OUT_DIR:

- ``<dataset>_train.json``: ``[{"image", "text"}]``, one record per
  expression of the train split (training uses image-text pairs only);
- ``<dataset>_val.json`` and ``<dataset>_test.json``: ``[{"image", "text",
  "ref_id"}]``; the test file joins every test split (testA + testB for
  RefCOCO / RefCOCO+ ``unc``, test for RefCOCOg ``umd``), and each
  evaluation split also gets its own ``<dataset>_<split>.json``;
- ``refs.json``: ``{ref_id: {image_id, bbox, split, height, width,
  file_name}}``, the ground truth in a plain json (``RefCOCODataset``'s
  ``refs_file``; the refer files work as well).

``image`` is ``--image-prefix`` + the COCO file name, relative to the COCO
images folder (the dataset's ``data_prefix.img_path``). Proposals
(``dets.json``) are not part of refer: use MAttNet's detections (ALBEF's
``data.tar.gz`` ships them for RefCOCO+).
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import defaultdict

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from albef_mm.datasets.refcoco import load_refer  # noqa: E402


def convert(refer_root: str, out_dir: str, dataset: str = 'refcoco+',
            split_by: str = 'unc', image_prefix: str = 'train2014/') -> dict:
    """Write the files; returns ``{file name: number of records}``."""
    refs = load_refer(refer_root, dataset, split_by)
    by_split = defaultdict(list)
    for ref_id in sorted(refs):
        ref = refs[ref_id]
        image = image_prefix + ref['file_name']
        for sent in ref['sentences']:
            rec = dict(image=image, text=sent)
            if ref['split'] != 'train':
                rec['ref_id'] = ref_id
            by_split[ref['split']].append(rec)
    os.makedirs(out_dir, exist_ok=True)
    files = {f'{dataset}_{split}.json': records
             for split, records in by_split.items()}
    tests = sorted(s for s in by_split if s.startswith('test'))
    if tests and tests != ['test']:
        files[f'{dataset}_test.json'] = [r for s in tests
                                         for r in by_split[s]]
    files['refs.json'] = {
        str(ref_id): {k: ref[k] for k in ('image_id', 'bbox', 'split',
                                          'height', 'width', 'file_name')}
        for ref_id, ref in sorted(refs.items())}
    for name, data in files.items():
        with open(osp.join(out_dir, name), 'w', encoding='utf-8') as f:
            json.dump(data, f)
    return {name: len(data) for name, data in files.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('refer_root', help='folder with <dataset>/refs(*).p '
                        'and <dataset>/instances.json')
    parser.add_argument('out_dir')
    parser.add_argument('--dataset', default='refcoco+',
                        choices=['refcoco', 'refcoco+', 'refcocog'])
    parser.add_argument('--split-by', default='unc',
                        help='unc (RefCOCO, RefCOCO+), umd or google '
                        '(RefCOCOg)')
    parser.add_argument('--image-prefix', default='train2014/',
                        help='prefix of the COCO file names in "image"')
    args = parser.parse_args(argv)
    counts = convert(args.refer_root, args.out_dir, args.dataset,
                     args.split_by, args.image_prefix)
    for name, n in sorted(counts.items()):
        print(f'{osp.join(args.out_dir, name)}: {n} records')


if __name__ == '__main__':
    main()
