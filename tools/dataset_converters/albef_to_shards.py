"""Write ALBEF image-caption json files and their images as tar shards, or
index a folder of ``img2dataset`` shards, for ``ShardedCaptionDataset``.

From ALBEF json (``[{"image": path, "caption": str or list}, ...]``,
``image`` relative to ``--image-root`` unless absolute)::

    python tools/dataset_converters/albef_to_shards.py json \\
        data/pretrain/coco.json data/pretrain/vg.json \\
        --image-root data/images --out-dir data/shards --per-shard 2000

writes ``shard-000000.tar``, ... (``<key>.<jpg|png|...>`` with the image's
own bytes, and ``<key>.txt`` for one caption or ``<key>.json``
``{"caption": [...]}`` for several) and ``shards.json``, the manifest
(``{"num_samples": N, "shards": [{"url": ..., "num_samples": n}]}``) that
the dataset's ``shards`` can name. A missing image or a bad record stops
the conversion naming the file and record, unless ``--skip-missing`` (then
each is reported and counted).

From ``img2dataset`` output (``00000.tar`` + ``00000_stats.json``, written
with ``--output_format webdataset``), nothing is rewritten: ::

    python tools/dataset_converters/albef_to_shards.py img2dataset \\
        data/laion --out data/laion/shards.json

indexes the tars with the sample counts of their stats files (a tar
without its stats file is counted by reading it).

Existing output files are never overwritten.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import webdataset as wds

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from albef_mm.datasets.sharded_caption import (ShardError,  # noqa: E402
                                               read_shard)
from albef_mm.datasets.utils import (check_image_caption_record,  # noqa: E402
                                     load_json_list)

MANIFEST = 'shards.json'


def _refuse_existing(path: str) -> None:
    if osp.exists(path):
        raise FileExistsError(f'{path} exists; choose another output '
                              '(this tool never overwrites a file)')


def _records(ann_files: Sequence[str], image_root: str):
    for path in ann_files:
        for i, rec in enumerate(load_json_list(path)):
            where = f'{path}, record {i}'
            check_image_caption_record(rec, where)
            image = rec['image'] if osp.isabs(rec['image']) else \
                osp.join(image_root, rec['image'])
            yield where, image, rec['caption']


def _member(key: str, image: str, caption) -> dict:
    ext = osp.splitext(image)[1].lower().lstrip('.') or 'jpg'
    with open(image, 'rb') as f:
        sample = {'__key__': key, ext: f.read()}
    if isinstance(caption, list):
        sample['json'] = json.dumps({'caption': caption}).encode('utf-8')
    else:
        sample['txt'] = caption.encode('utf-8')
    return sample


def json_to_shards(ann_files: Sequence[str], image_root: str, out_dir: str,
                   per_shard: int = 2000, skip_missing: bool = False,
                   prefix: str = 'shard') -> dict:
    """Write the records of ``ann_files`` as shards of ``per_shard``
    samples in ``out_dir`` plus its manifest; returns the manifest."""
    if per_shard <= 0:
        raise ValueError(f'--per-shard must be positive, got {per_shard}')
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = osp.join(out_dir, MANIFEST)
    _refuse_existing(manifest_path)
    shards: List[dict] = []
    writer, skipped = None, []

    def close():
        if writer is not None:
            writer.close()

    try:
        for n, (where, image, caption) in enumerate(
                _records(ann_files, image_root)):
            if not osp.isfile(image):
                if not skip_missing:
                    raise FileNotFoundError(
                        f'{where}: image {image} not found (check '
                        '--image-root, or pass --skip-missing)')
                skipped.append(f'{where}: {image}')
                continue
            if writer is None or shards[-1]['num_samples'] == per_shard:
                close()
                name = f'{prefix}-{len(shards):06d}.tar'
                _refuse_existing(osp.join(out_dir, name))
                writer = wds.TarWriter(osp.join(out_dir, name))
                shards.append(dict(url=name, num_samples=0))
            writer.write(_member(f'{n:09d}', image, caption))
            shards[-1]['num_samples'] += 1
    finally:
        close()
    if not shards:
        raise ValueError(f'no sample written from {list(ann_files)}')
    for line in skipped:
        print(f'skipped (image missing): {line}')
    manifest = dict(num_samples=sum(s['num_samples'] for s in shards),
                    num_skipped=len(skipped), shards=shards)
    with open(manifest_path, 'w') as f:
        json.dump(manifest, f, indent=1)
    return manifest


def index_img2dataset(folder: str, out: Optional[str] = None) -> dict:
    """Write a manifest of the ``img2dataset`` tars in ``folder`` (counts
    from their ``*_stats.json``); returns it."""
    tars = sorted(glob.glob(osp.join(folder, '*.tar')))
    if not tars:
        raise ShardError(f'{folder} holds no .tar shard (img2dataset '
                         'writes them with --output_format webdataset)')
    out = out or osp.join(folder, MANIFEST)
    _refuse_existing(out)
    shards = []
    for tar in tars:
        stats = tar[:-len('.tar')] + '_stats.json'
        if osp.isfile(stats):
            with open(stats) as f:
                try:
                    count = int(json.load(f)['successes'])
                except (ValueError, KeyError, TypeError) as err:
                    raise ShardError(f'{stats}: no "successes" count '
                                     f'({err})') from err
        else:
            count = len(read_shard(tar))
        shards.append(dict(url=osp.relpath(tar, osp.dirname(out)),
                           num_samples=count))
    manifest = dict(num_samples=sum(s['num_samples'] for s in shards),
                    shards=shards)
    with open(out, 'w') as f:
        json.dump(manifest, f, indent=1)
    return manifest


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='mode', required=True)
    js = sub.add_parser('json', help='ALBEF json + images -> shards')
    js.add_argument('ann_files', nargs='+')
    js.add_argument('--image-root', default='')
    js.add_argument('--out-dir', required=True)
    js.add_argument('--per-shard', type=int, default=2000,
                    help='samples per shard (a reader holds one shard in '
                    'memory)')
    js.add_argument('--prefix', default='shard')
    js.add_argument('--skip-missing', action='store_true',
                    help='report and count missing images instead of '
                    'stopping')
    i2d = sub.add_parser('img2dataset', help='index img2dataset shards')
    i2d.add_argument('folder')
    i2d.add_argument('--out', help=f'manifest (default folder/{MANIFEST})')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.mode == 'json':
        manifest = json_to_shards(args.ann_files, args.image_root,
                                  args.out_dir, args.per_shard,
                                  args.skip_missing, args.prefix)
    else:
        manifest = index_img2dataset(args.folder, args.out)
    print(f'{manifest["num_samples"]} samples in {len(manifest["shards"])} '
          'shard(s)')


if __name__ == '__main__':
    main()
