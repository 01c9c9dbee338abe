"""Convert Karpathy's split files into ALBEF's retrieval json files.

Input: ``dataset_coco.json`` or ``dataset_flickr30k.json`` from Karpathy's
``caption_datasets.zip``::

    {"dataset": "coco" | "flickr30k",
     "images": [{"filepath": "val2014" (COCO only), "filename": "...jpg",
                 "split": "train" | "restval" | "val" | "test",
                 "sentences": [{"raw": "A caption.", ...}, ...],
                 "imgid": 0, "cocoid": 391895 (COCO only), ...}, ...]}

Output (``--out-dir``), the format of ALBEF's released ``data.tar.gz``:

- ``<name>_train.json``: one record per caption,
  ``{"image", "caption", "image_id"}``; ``train`` and ``restval`` images
  (Karpathy's usual 113k-image COCO training set; Flickr30K has no
  ``restval``).
- ``<name>_val.json``, ``<name>_test.json``: one record per image,
  ``{"image", "caption": [all raw captions], "image_id"}``.

``image`` is relative to the image root of the dataset config:
``<filepath>/<filename>`` for COCO (``val2014/COCO_val2014_000000391895.jpg``,
as ALBEF/LAVIS' ``coco_*.json``) and ``flickr30k-images/<filename>`` for
Flickr30K (as ALBEF's ``flickr30k_*.json``; override with
``--image-dir``). ``image_id`` is ``"coco_<cocoid>"`` for COCO (as the
released files) and Karpathy's integer ``imgid`` for Flickr30K (the
released training file numbers images 0, 1, ... in the same order). The
captions are the ``raw`` sentences (``RetrievalDataset`` cleans them). The
evaluation records carry ``image_id`` too; ALBEF ignores it.

Example:
    python tools/dataset_converters/karpathy_to_albef.py \\
        data/karpathy/dataset_coco.json --out-dir data/coco/annotations
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

SPLIT_OF = {'train': 'train', 'restval': 'train', 'val': 'val',
            'test': 'test'}
DEFAULT_IMAGE_DIR = {'coco': None, 'flickr30k': 'flickr30k-images'}


def _image_path(img: dict, where: str, image_dir: Optional[str]) -> str:
    if not isinstance(img.get('filename'), str) or not img['filename']:
        raise ValueError(f'{where}: missing or empty "filename"')
    if image_dir is not None:
        return f'{image_dir}/{img["filename"]}' if image_dir else \
            img['filename']
    if 'filepath' not in img:
        raise KeyError(f'{where}: missing key "filepath" (COCO images live '
                       'in train2014/ or val2014/); pass --image-dir to set '
                       'the folder explicitly')
    return f'{img["filepath"]}/{img["filename"]}'


def _image_id(img: dict, where: str, dataset: str):
    if dataset == 'coco':
        if 'cocoid' not in img:
            raise KeyError(f'{where}: missing key "cocoid"')
        return f'coco_{img["cocoid"]}'
    if 'imgid' not in img:
        raise KeyError(f'{where}: missing key "imgid"')
    return img['imgid']


def _captions(img: dict, where: str) -> List[str]:
    sentences = img.get('sentences')
    if not isinstance(sentences, list) or not sentences:
        raise ValueError(f'{where}: "sentences" must be a non-empty list')
    caps = []
    for k, sent in enumerate(sentences):
        if not isinstance(sent, dict) or not isinstance(sent.get('raw'),
                                                        str):
            raise ValueError(f'{where}, sentence {k}: missing string "raw"')
        caps.append(sent['raw'])
    return caps


def convert_karpathy(data: dict,
                     source: str = '<input>',
                     image_dir: Optional[str] = None
                     ) -> Dict[str, List[dict]]:
    """Convert a loaded Karpathy split file into ALBEF's three lists.

    Args:
        data (dict): The parsed ``dataset_coco.json`` /
            ``dataset_flickr30k.json``.
        source (str): Name of the input, used in error messages.
            Defaults to ``'<input>'``.
        image_dir (str, optional): Folder prefixed to ``filename``; None
            uses ``filepath`` for COCO and ``flickr30k-images`` for
            Flickr30K. Defaults to None.

    Returns:
        dict: ``{'train': [...], 'val': [...], 'test': [...]}`` records.

    Raises:
        KeyError | ValueError: On a malformed file; the message names the
            source and the image index.
    """
    if not isinstance(data, dict) or not isinstance(data.get('images'),
                                                    list):
        raise ValueError(f'{source}: expected a dict with an "images" list '
                         '(Karpathy split format)')
    dataset = data.get('dataset')
    if dataset not in DEFAULT_IMAGE_DIR:
        raise ValueError(f'{source}: "dataset" must be one of '
                         f'{sorted(DEFAULT_IMAGE_DIR)}, got {dataset!r}')
    if image_dir is None:
        image_dir = DEFAULT_IMAGE_DIR[dataset]
    out: Dict[str, List[dict]] = {'train': [], 'val': [], 'test': []}
    for i, img in enumerate(data['images']):
        where = f'{source}, image {i}'
        if not isinstance(img, dict):
            raise ValueError(f'{where}: expected a dict, got '
                             f'{type(img).__name__}')
        split = img.get('split')
        if split not in SPLIT_OF:
            raise ValueError(f'{where}: "split" must be one of '
                             f'{sorted(SPLIT_OF)}, got {split!r}')
        path = _image_path(img, where, image_dir)
        image_id = _image_id(img, where, dataset)
        caps = _captions(img, where)
        if SPLIT_OF[split] == 'train':
            out['train'].extend(
                dict(image=path, caption=c, image_id=image_id)
                for c in caps)
        else:
            out[SPLIT_OF[split]].append(
                dict(image=path, caption=caps, image_id=image_id))
    return out


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert Karpathy split files (dataset_coco.json, '
        'dataset_flickr30k.json) into ALBEF retrieval json files.')
    parser.add_argument('karpathy_json', help='dataset_coco.json or '
                        'dataset_flickr30k.json')
    parser.add_argument('--out-dir', required=True,
                        help='folder for <name>_{train,val,test}.json')
    parser.add_argument('--name', default=None,
                        help='output file prefix (default: the "dataset" '
                        'field, i.e. coco or flickr30k)')
    parser.add_argument('--image-dir', default=None,
                        help='folder prefixed to each filename (default: '
                        'COCO "filepath", Flickr30K "flickr30k-images"; '
                        '"" for none)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, int]:
    """Run the conversion; returns the number of records per split."""
    args = parse_args(argv)
    if not osp.isfile(args.karpathy_json):
        raise FileNotFoundError(f'Karpathy file not found: '
                                f'{args.karpathy_json}')
    with open(args.karpathy_json, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{args.karpathy_json} is not valid json: '
                             f'{err}') from err
    splits = convert_karpathy(data, args.karpathy_json, args.image_dir)
    name = args.name or data['dataset']
    os.makedirs(args.out_dir, exist_ok=True)
    counts = {}
    for split, records in splits.items():
        path = osp.join(args.out_dir, f'{name}_{split}.json')
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(records, f)
        counts[split] = len(records)
        unit = 'captions' if split == 'train' else 'images'
        n_caps = len(records) if split == 'train' else sum(
            len(r['caption']) for r in records)
        print(f'{split:5s}: {len(records):7d} records ({unit}), '
              f'{n_caps} captions -> {path}')
    return counts


if __name__ == '__main__':
    main()
