"""Text-to-image search with an ALBEF model: ITC shortlist, ITM re-rank.

Usage:
    python demo/retrieval_demo.py CONFIG CHECKPOINT --images DIR_OR_FILES...
        --text "a red circle on the left" [--topk 5] [--out result.png]

Works with any config whose model has ITC and ITM heads (pre-training or
retrieval), and with albef_mm or original ALBEF checkpoints. Prints the
ranking (ITM match probability and ITC similarity) and, with ``--out``,
draws the top images with their scores.
"""
import argparse
import glob
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate

from albef_mm.apis import init_model
from albef_mm.registry import TRANSFORMS

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--images', nargs='+', required=True,
                        help='image files and/or folders')
    parser.add_argument('--text', required=True, help='the query')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--out', help='write the top images here (png)')
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='key=value overrides, e.g. a vocab path')
    return parser.parse_args(argv)


def list_images(items):
    files = []
    for item in items:
        if osp.isdir(item):
            files += sorted(f for f in glob.glob(osp.join(item, '*'))
                            if f.lower().endswith(IMAGE_EXTS))
        elif osp.isfile(item):
            files.append(item)
        else:
            raise FileNotFoundError(f'{item} is neither an image nor a '
                                    'folder')
    if not files:
        raise FileNotFoundError(f'no images found in {items}')
    return files


def build(cfg_path, checkpoint, device, options):
    overrides = dict(opt.partition('=')[::2] for opt in options)
    model = init_model(cfg_path, checkpoint, device, overrides)
    pipeline = list(model.cfg.test_dataloader.dataset.pipeline)
    pack = dict(type='PackALBEFInputs', algorithm_keys=())
    pipeline = Compose([TRANSFORMS.build(t) for t in pipeline[:-1]] +
                       [TRANSFORMS.build(pack)])
    return model, pipeline


@torch.no_grad()
def rank(model, pipeline, files, text, topk):
    feats, embeds = [], []
    for start in range(0, len(files), 32):
        batch = pseudo_collate([pipeline(dict(img_path=f))
                                for f in files[start:start + 32]])
        images = model.data_preprocessor(batch, False)['images']
        out = model.extract_feat(images, mode='image')
        feats.append(out['image_feat'])
        embeds.append(out['image_embeds'])
    feats, embeds = torch.cat(feats), torch.cat(embeds)
    tok = model.data_preprocessor.tokenize([text], max_length=30,
                                           padding='longest')
    txt = model.extract_feat(text_ids=tok['text_ids'],
                             text_mask=tok['text_mask'], mode='text')
    sims = (feats @ txt['text_feat'].t()).squeeze(1)
    short = sims.topk(min(topk, len(files))).indices
    n = len(short)
    itm = model.itm_logits(embeds[short], txt['text_embeds'].expand(n, -1, -1),
                           tok['text_mask'].expand(n, -1)).softmax(-1)[:, 1]
    order = itm.argsort(descending=True)
    return [(files[short[i]], float(itm[i]), float(sims[short[i]]))
            for i in order.tolist()]


def draw(results, out, size=192):
    tiles = []
    for path, itm, itc in results:
        image = cv2.resize(cv2.imread(path), (size, size))
        canvas = np.full((size + 24, size, 3), 255, np.uint8)
        canvas[:size] = image
        cv2.putText(canvas, f'ITM {itm:.2f}  ITC {itc:.2f}', (4, size + 17),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        tiles.append(canvas)
    cv2.imwrite(out, np.concatenate(tiles, 1))


def main(argv=None):
    args = parse_args(argv)
    files = list_images(args.images)
    model, pipeline = build(args.config, args.checkpoint, args.device,
                            args.cfg_options)
    results = rank(model, pipeline, files, args.text, args.topk)
    print(f'query: {args.text!r} ({len(files)} images)')
    for i, (path, itm, itc) in enumerate(results, 1):
        print(f'{i:2d}. ITM {itm:.3f}  ITC {itc:+.3f}  {path}')
    if args.out:
        draw(results, args.out)
        print(f'wrote {args.out}')
    return results


if __name__ == '__main__':
    main()
