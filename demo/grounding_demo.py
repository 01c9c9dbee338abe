"""Grounding visualiser: where in the image does the model see the
expression? Grad-CAM heat maps of an ALBEF model, one panel per word.

Usage:
    python demo/grounding_demo.py IMAGE "expression" --config CONFIG
        --checkpoint CKPT --out out.png [--proposals BOXES.json]
    # batch: every image of a folder with one expression, or a json list
    python demo/grounding_demo.py FOLDER "the red circle" ... --out OUT_DIR
    python demo/grounding_demo.py items.json --config ... --out OUT_DIR

IMAGE may be an image file, a folder of images (the expression is used for
each) or a json list of ``{"image", "text", "proposals"?}`` records (image
paths relative to the json file). ``--proposals`` is a json list of
``[x, y, w, h]`` boxes (or a ``dets.json`` mapping image ids to boxes, with
``--image-id``); the box whose heat-map score (sum / area^0.5) is highest
is drawn in green, as the grounding evaluation selects it.

The config's model must have a Grad-CAM head (``ALBEFGrounding``: the
grounding configs); ``--gradcam-layer`` / ``--gradcam-mode`` override it.

Nothing is lost: every figure name is planned before the model runs, and
the demo stops (writing nothing) when a figure would replace one of its
inputs, when two inputs would share a figure, when a figure path is a
symbolic link, or when it exists and ``--overwrite`` is not given.
Figures are written atomically. In a folder, ``x.png`` gets ``x.png``
unless another image is also named ``x`` (``x.jpg``): then ``x_png.png``
and ``x_jpg.png``.
Works with albef_mm checkpoints and original ALBEF files (e.g. the released
``refcoco.pth`` with ``configs/albef/grounding_refcoco+.py``).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from collections import Counter

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from albef_mm.apis import VisualGroundingInferencer  # noqa: E402
from albef_mm.utils.atomic_io import atomic_path  # noqa: E402
from albef_mm.visualization import draw_grounding  # noqa: E402

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image', help='image file, folder or json list')
    parser.add_argument('expression', nargs='?', default=None,
                        help='referring expression (not for a json list)')
    parser.add_argument('--config', required=True)
    parser.add_argument('--checkpoint', required=True)
    parser.add_argument('--out', required=True,
                        help='png file (one image) or folder (batch)')
    parser.add_argument('--proposals', help='json: list of xywh boxes, or '
                        'a dets.json (with --image-id)')
    parser.add_argument('--image-id', help='key of the image in a dets.json')
    parser.add_argument('--gradcam-mode', choices=['itm', 'itc'])
    parser.add_argument('--gradcam-layer', type=int)
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing figures (never an input)')
    parser.add_argument('--no-words', action='store_true',
                        help='only the expression map, no per-word panels')
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='key=value overrides, e.g. a vocab path')
    return parser.parse_args(argv)


def build(config: str, checkpoint: str, device: str = 'cpu',
          options=(), mode=None, layer=None) -> VisualGroundingInferencer:
    """The inferencer of a grounding config (Grad-CAM overrides applied)."""
    overrides = dict(opt.partition('=')[::2] for opt in options)
    if mode is not None:
        overrides['model.gradcam_head.mode'] = mode
    if layer is not None:
        overrides['model.gradcam_head.layer'] = layer
    return VisualGroundingInferencer(config, checkpoint, device,
                                     cfg_options=overrides)


def ground(inferencer: VisualGroundingInferencer, image_path: str,
           expression: str, proposals=None) -> dict:
    """Heat maps of one (image, expression) pair: ``image``, ``text``,
    ``heatmap``, ``token_maps``, ``words``, ``box`` (see
    :class:`VisualGroundingInferencer`)."""
    return inferencer(image_path, expression, proposals)[0]


def render(result: dict, out_file: str, words: bool = True) -> None:
    """Write the grounding figure of :func:`ground`'s result as png."""
    from matplotlib import pyplot as plt
    fig = draw_grounding(result['image'], result['heatmap'], result['text'],
                         result['token_maps'] if words else None,
                         result['words'] if words else None, result['box'])
    with atomic_path(out_file) as tmp:  # a kill leaves no half figure
        fig.savefig(tmp, dpi=100, format='png')
    plt.close(fig)


def load_proposals(path, image_id=None):
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if isinstance(data, dict):
        if image_id is None:
            raise ValueError(f'{path} maps image ids to boxes: pass '
                             '--image-id')
        data = data.get(str(image_id), [])
    return [list(map(float, b[:4])) for b in data]


def items_of(args):
    """``(image, expression, proposals, out_file)`` for every item."""
    if args.image.endswith('.json'):
        with open(args.image, encoding='utf-8') as f:
            records = json.load(f)
        root = osp.dirname(args.image)
        for i, rec in enumerate(records):
            if 'image' not in rec or 'text' not in rec:
                raise KeyError(f'{args.image}, record {i}: needs "image" and '
                               '"text"')
            name = osp.splitext(osp.basename(rec['image']))[0]
            yield (osp.join(root, rec['image']), rec['text'],
                   rec.get('proposals'), osp.join(args.out,
                                                  f'{i:04d}_{name}.png'))
        return
    if args.expression is None:
        raise ValueError('give the expression after the image (or a json '
                         'list of {"image", "text"} records)')
    proposals = load_proposals(args.proposals, args.image_id) \
        if args.proposals else None
    if osp.isdir(args.image):
        files = sorted(f for f in glob.glob(osp.join(args.image, '*'))
                       if f.lower().endswith(IMAGE_EXTS))
        if not files:
            raise FileNotFoundError(f'no images in {args.image}')
        stems = Counter(osp.splitext(osp.basename(f))[0] for f in files)
        for f in files:
            stem, ext = osp.splitext(osp.basename(f))
            name = stem if stems[stem] == 1 else f'{stem}_{ext[1:]}'
            yield f, args.expression, proposals, osp.join(args.out,
                                                          name + '.png')
    elif osp.isfile(args.image):
        yield args.image, args.expression, proposals, args.out
    else:
        raise FileNotFoundError(f'{args.image} is neither an image, a folder '
                                'nor a json list')


def check_outputs(items: list, inputs: list, overwrite: bool) -> None:
    """Refuse (``FileExistsError`` naming the file, before anything is
    computed) a figure path that is an input, is shared by two items, is
    a symbolic link, or exists without ``overwrite``."""
    read = {osp.realpath(p) for p in inputs}
    first = {}
    for image, _, _, out_file in items:
        real = osp.realpath(out_file)
        if real in read:
            raise FileExistsError(
                f'{out_file} is an input of this run; refusing to replace '
                'it: choose an --out outside the input folder')
        if real in first:
            raise FileExistsError(
                f'{first[real]} and {image} would both be drawn to '
                f'{out_file}; give them distinct names')
        first[real] = image
        if osp.islink(out_file):
            raise FileExistsError(f'{out_file} is a symbolic link; refusing '
                                  'to write through it')
        if osp.exists(out_file) and not overwrite:
            raise FileExistsError(f'{out_file} exists; pass --overwrite to '
                                  'replace it')


def main(argv=None):
    args = parse_args(argv)
    items = list(items_of(args))
    inputs = [image for image, _, _, _ in items] + [
        p for p in (args.image, args.proposals, args.config,
                    args.checkpoint) if p and osp.isfile(p)]
    check_outputs(items, inputs, args.overwrite)
    inferencer = build(args.config, args.checkpoint, args.device,
                       args.cfg_options, args.gradcam_mode,
                       args.gradcam_layer)
    written = []
    for image, text, proposals, out_file in items:
        result = ground(inferencer, image, text, proposals)
        render(result, out_file, words=not args.no_words)
        box = '' if result['box'] is None else f', box {result["box"]}'
        print(f'{image}: "{result["text"]}" -> {out_file}{box}')
        written.append(out_file)
    return written


if __name__ == '__main__':
    main()
