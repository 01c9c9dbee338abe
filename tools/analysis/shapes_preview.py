"""Draw a grid of Shapes pre-training samples with their captions.

Usage:
    python tools/analysis/shapes_preview.py DATA_DIR OUT.png [--num 6]
"""
import argparse
import json
import os
import os.path as osp

import cv2
import numpy as np


def tile(image_path: str, caption: str, size: int = 256) -> np.ndarray:
    image = cv2.imread(image_path)
    if image is None:
        raise FileNotFoundError(f'cannot read {image_path}')
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_NEAREST)
    canvas = np.full((size + 70, size, 3), 255, np.uint8)
    canvas[:size] = image
    lines, line = [], ''
    for word in caption.split():
        if line and len(line) + len(word) + 1 > 34:
            lines.append(line)
            line = word
        else:
            line = f'{line} {word}'.strip()
    lines.append(line)
    for i, text in enumerate(lines[:4]):
        cv2.putText(canvas, text, (4, size + 16 * (i + 1)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_dir')
    parser.add_argument('out')
    parser.add_argument('--num', type=int, default=6)
    args = parser.parse_args(argv)
    with open(osp.join(args.data_dir, 'pretrain.json')) as f:
        records = json.load(f)[:args.num]
    tiles = []
    for rec in records:
        caption = rec['caption']
        caption = caption if isinstance(caption, str) else caption[0]
        tiles.append(tile(osp.join(args.data_dir, rec['image']), caption))
    per_row = 3
    rows = [np.concatenate(tiles[i:i + per_row], 1)
            for i in range(0, len(tiles) - len(tiles) % per_row, per_row)]
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, np.concatenate(rows, 0))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
