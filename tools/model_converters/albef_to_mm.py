"""Convert an original ALBEF checkpoint to albef_mm key names.

Usage:
    python tools/model_converters/albef_to_mm.py SRC DST [--fusion-layer 6]

SRC is a released or script-saved ALBEF checkpoint (``{'model': ...}`` with
momentum weights and queues, or a bare fine-tuned state dict). DST gets
``{'state_dict': ..., 'meta': ...}``, loadable with ``load_from`` or
``tools/test.py``. Every key is accounted for: converted, deliberately
dropped (listed), or an error naming the unknown keys.
"""
import argparse
import os
import os.path as osp
import sys

import torch

from albef_mm.checkpoint import (convert_albef_state_dict,
                                 extract_state_dict, is_original_albef,
                                 load_any)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='original ALBEF checkpoint')
    parser.add_argument('dst', help='output file')
    parser.add_argument('--fusion-layer', type=int, default=None,
                        help='first BERT layer with cross-attention '
                        '(detected from the weights by default)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    state = extract_state_dict(load_any(args.src))
    if not is_original_albef(state):
        print(f'{args.src} does not use the original ALBEF key names '
              '(visual_encoder.*, text_encoder.*); nothing to convert.',
              file=sys.stderr)
        return 1
    converted, dropped = convert_albef_state_dict(state, args.fusion_layer)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=converted,
                    meta=dict(converted_from=osp.abspath(args.src))),
               args.dst)
    momentum = sum(1 for k in converted if '_m.' in k)
    print(f'Converted {len(converted)} tensors ({momentum} momentum) from '
          f'{args.src} to {args.dst}')
    if dropped:
        print(f'Dropped {len(dropped)} keys that albef_mm recomputes or does '
              f'not use: {dropped}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
