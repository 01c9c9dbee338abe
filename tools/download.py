"""Fetch the ALBEF authors' released files into the cache, and put the
annotation files where the configs read them.

Usage:
    python tools/download.py weights NAME [NAME ...]   # registered models
    python tools/download.py data [--root data] [--force]

``weights`` downloads the released checkpoint of each model name (see
``albef_mm.apis.list_models()``) into the cache, as ``get_model(NAME)``
would on first use. ``data`` downloads ALBEF's ``data.tar.gz`` (the json
files of the downstream tasks: karpathy splits, VQA with the answer list
and VG QA, NLVR2, SNLI-VE, RefCOCO+ with its detections), unpacks it in
the cache and copies each file to where the configs expect it:

    coco_*.json -> ROOT/coco/           flickr30k_*.json -> ROOT/flickr30k/
    vqa_*.json, vg_qa.json, answer_list.json -> ROOT/vqa/
    nlvr_*.json -> ROOT/nlvr2/          ve_*.json -> ROOT/snli_ve/
    refcoco+_*.json -> ROOT/            refcoco+/* -> ROOT/refcoco+/

Downloads have the cache's guarantees (progress bar, atomic, resumable,
SHA-256 recorded and checked; ``ALBEF_MM_HOME`` moves the cache,
``ALBEF_MM_MIRROR`` replaces the authors' host). An existing file with
other content is left alone and reported (``--force`` replaces it); the
archive's members may not leave the unpack folder (no absolute paths,
``..`` or links).
"""
import argparse
import filecmp
import fnmatch
import os
import os.path as osp
import shutil
import sys
import tarfile
from typing import List, Optional, Tuple

from albef_mm.utils.download import DownloadError, download
from albef_mm.utils.model_index import weights_file

DATA_URL = ('https://storage.googleapis.com/sfr-pcl-data-research/ALBEF/'
            'data.tar.gz')
# (pattern of the member's path below the archive's top folder, folder
# under --root); the first match wins
PLACES = (('coco_*.json', 'coco'), ('flickr30k_*.json', 'flickr30k'),
          ('vqa_*.json', 'vqa'), ('vg_qa.json', 'vqa'),
          ('answer_list.json', 'vqa'), ('nlvr_*.json', 'nlvr2'),
          ('ve_*.json', 'snli_ve'), ('refcoco+_*.json', '.'),
          ('refcoco+/*', 'refcoco+'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='what', required=True)
    weights = sub.add_parser('weights', help='released checkpoints of '
                             'registered models, into the cache')
    weights.add_argument('names', nargs='+', help='model names')
    data = sub.add_parser('data', help="ALBEF's data.tar.gz, unpacked "
                          'where the configs read it')
    data.add_argument('--root', default='data',
                      help='the configs\' data folder (default: data)')
    data.add_argument('--force', action='store_true',
                      help='replace existing files whose content differs')
    data.add_argument('--url', default=DATA_URL, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def safe_extract(archive: str, dest: str) -> List[str]:
    """Unpack a tar archive into ``dest``, refusing members that would
    land outside it (absolute paths, ``..``) and links or devices.

    Returns:
        The member paths of the regular files, relative to ``dest``.
    Raises:
        ValueError: naming the offending member; nothing is unpacked.
    """
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        root = osp.realpath(dest)
        for m in members:
            target = osp.realpath(osp.join(root, m.name))
            if osp.isabs(m.name) or not (target == root or target.startswith(
                    root + os.sep)):
                raise ValueError(f'{archive}: member {m.name!r} would be '
                                 f'written outside {dest}; not unpacked.')
            if not (m.isfile() or m.isdir()):
                raise ValueError(f'{archive}: member {m.name!r} is a link '
                                 'or a device, not a file; not unpacked.')
        os.makedirs(dest, exist_ok=True)
        for m in members:
            if m.isdir():
                os.makedirs(osp.join(dest, m.name), exist_ok=True)
                continue
            out = osp.join(dest, m.name)
            os.makedirs(osp.dirname(out), exist_ok=True)
            with tar.extractfile(m) as src, open(out, 'wb') as f:
                shutil.copyfileobj(src, f)
        return [m.name for m in members if m.isfile()]


def place_of(member: str) -> Optional[Tuple[str, str]]:
    """``(folder under the data root, file name)`` of an archive member
    (its top folder, e.g. ``data/``, ignored), or None when no config
    reads it."""
    parts = member.replace('\\', '/').split('/')
    for depth in (0, 1):  # with or without a top folder
        rel = '/'.join(parts[depth:])
        for pattern, folder in PLACES:
            if rel and fnmatch.fnmatchcase(rel, pattern) and \
                    rel.count('/') == pattern.count('/'):
                return folder, parts[-1]
    return None


def place(unpacked: str, members: List[str], root: str,
          force: bool) -> dict:
    """Copy the unpacked members to their places under ``root``; returns
    ``{'copied': [...], 'same': [...], 'kept': [...], 'unused': [...]}``
    (``kept``: an existing file with other content, left alone)."""
    report = dict(copied=[], same=[], kept=[], unused=[])
    for member in sorted(members):
        where = place_of(member)
        if where is None:
            report['unused'].append(member)
            continue
        dst = osp.normpath(osp.join(root, *where))
        src = osp.join(unpacked, member)
        if osp.exists(dst) and filecmp.cmp(src, dst, shallow=False):
            report['same'].append(dst)
            continue
        if osp.exists(dst) and not force:
            report['kept'].append(dst)
            continue
        os.makedirs(osp.dirname(dst), exist_ok=True)
        tmp = dst + '.part'
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        report['copied'].append(dst)
    return report


def fetch_data(url: str, root: str, force: bool = False) -> dict:
    """Download (once) and unpack ``data.tar.gz``, then :func:`place` its
    files under ``root``."""
    archive, _ = download(url, subdir='data')
    unpacked = archive + '.unpacked'
    marker = osp.join(unpacked, '.complete')
    if not osp.isfile(marker):
        for stale in (unpacked, unpacked + '.tmp'):  # interrupted unpacks
            if osp.isdir(stale):
                shutil.rmtree(stale)
        members = safe_extract(archive, unpacked + '.tmp')
        os.replace(unpacked + '.tmp', unpacked)
        with open(marker, 'w') as f:
            f.write('\n'.join(members) + '\n')
    with open(marker) as f:
        members = [line for line in f.read().splitlines() if line]
    return place(unpacked, members, root, force)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.what == 'weights':
            for name in args.names:
                print(f'{name}: {weights_file(name)}')
            return 0
        report = fetch_data(args.url, args.root, args.force)
    except (DownloadError, FileNotFoundError, KeyError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    for key, label in (('copied', 'written'), ('same', 'already there'),
                       ('kept', 'exists with other content, left alone '
                        '(--force replaces it)'),
                       ('unused', 'in the archive, read by no config')):
        for path in report[key]:
            print(f'{label}: {path}')
    print(f"{len(report['copied'])} written, {len(report['same'])} already "
          f"there, {len(report['kept'])} left alone, "
          f"{len(report['unused'])} unused")
    return 0


if __name__ == '__main__':
    sys.exit(main())
