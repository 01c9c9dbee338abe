"""Image galleries of any size for text-to-image retrieval: encode a folder
or a file list into an on-disk store (resumable), build its FAISS index,
search it by text (ITC shortlist, ITM re-ranking).

    # encode (run again after an interruption: written chunks are kept)
    python tools/gallery.py encode CONFIG CHECKPOINT photos/ stores/photos
    # FAISS index (encode builds one itself from 200,000 images)
    python tools/gallery.py index stores/photos
    # search
    python tools/gallery.py search CONFIG CHECKPOINT stores/photos \\
        "a dog on a beach" --topk 5

A store answers only the model that encoded it (the model's fingerprint is
checked). See docs/galleries.md.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from albef_mm.apis.gallery_index import (DEFAULT_SPEC,  # noqa: E402
                                         INDEX_MIN_IMAGES, build_index)
from albef_mm.apis.gallery_store import GalleryStore  # noqa: E402


def _inferencer(args):
    from albef_mm.apis import ImageTextRetrievalInferencer
    return ImageTextRetrievalInferencer(
        args.config, args.checkpoint, device=args.device,
        batch_size=args.batch_size, k=args.k, cfg_options=args.cfg_options)


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    for name in ('encode', 'search'):
        c = sub.add_parser(name)
        c.add_argument('config')
        c.add_argument('checkpoint')
        c.add_argument('--device', default='cpu')
        c.add_argument('--batch-size', type=int, default=32)
        c.add_argument('--k', type=int, default=16,
                       help='ITC shortlist re-ranked by ITM')
        c.add_argument('--cfg-options', nargs='+', action=DictAction)
    enc = sub.choices['encode']
    enc.add_argument('images', help='folder (recursive) or .txt file list')
    enc.add_argument('store', help='store folder (created, or resumed)')
    enc.add_argument('--chunk-size', type=int, default=4096)
    enc.add_argument('--index', default='auto',
                     help=f"'auto' (a {DEFAULT_SPEC} index from "
                     f"{INDEX_MIN_IMAGES} images), 'none', or a FAISS "
                     'index_factory string')
    idx = sub.add_parser('index')
    idx.add_argument('store')
    idx.add_argument('--spec', default=DEFAULT_SPEC)
    se = sub.choices['search']
    se.add_argument('store')
    se.add_argument('texts', nargs='+')
    se.add_argument('--topk', type=int, default=5)
    se.add_argument('--search', default='auto',
                    choices=['auto', 'exact', 'index'])
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.command == 'index':
        build_index(GalleryStore.open(args.store), args.spec)
        return
    inf = _inferencer(args)
    if args.command == 'encode':
        store = inf.encode_gallery_store(args.images, args.store,
                                         args.chunk_size, emit=print)
        spec = DEFAULT_SPEC if args.index == 'auto' else args.index
        if args.index != 'none' and (args.index != 'auto' or
                                     len(store.paths) >= INDEX_MIN_IMAGES):
            build_index(store, spec)
        bad = store.meta['unreadable']
        print(f'{args.store}: {len(store.paths)} images'
              + (f', {len(bad)} unreadable (left out of searches)'
                 if bad else ''))
        return
    inf.open_gallery_store(args.store, args.search)
    for text, hits in zip(args.texts, inf.text_to_image(args.texts,
                                                        args.topk)):
        print(json.dumps(dict(text=text, results=hits)))


if __name__ == '__main__':
    main()
