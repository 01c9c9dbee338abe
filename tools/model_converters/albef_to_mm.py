"""Convert an original ALBEF checkpoint to albef_mm key names.

Usage:
    python tools/model_converters/albef_to_mm.py SRC DST [--config CFG]
        [--fusion-layer 6] [--trust-checkpoint] [--overwrite] [--verbose]

SRC is a released or script-saved ALBEF (or LAVIS ALBEF) checkpoint
(``{'model': ...}`` with momentum weights and queues, or a bare fine-tuned
state dict). DST gets ``{'state_dict': ..., 'meta': ...}``, loadable with
``load_from`` or ``tools/test.py``.

Without ``--config`` the generic mapping of the pre-training / retrieval
layout is used. With ``--config`` the task model's class is built from the
config on the meta device (no weights are allocated) and its
``convert_original_state_dict`` does the mapping (VQA decoder, NLVR2
layers, classification heads, ...); the result is then checked against
the model: missing, unexpected and mis-shaped keys are reported by module
and stop the conversion (exit code 2).

Every key is accounted for: converted (summarised by module; ``--verbose``
lists each ``old -> new``), deliberately dropped (listed), or an error
naming the unknown keys. Exit codes: 0 converted, 1 not an original
ALBEF file, 2 does not fit ``--config``'s model, 3 unreadable or untrusted
SRC, 4 refused arguments (DST is SRC, a folder, a symbolic link, or exists
without ``--overwrite``, found before SRC is read; ``--fusion-layer``
outside the text encoder's layers), nothing written. DST is written
atomically (a temporary file renamed when complete).
SRC is read with ``weights_only=True``;
``--trust-checkpoint`` allows full unpickling for files that need it
(such a file can run code while it is read).
"""
import argparse
import os
import os.path as osp
import re
import sys
import time
import warnings

import torch

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from albef_mm.checkpoint import (CheckpointMismatchError,  # noqa: E402
                                 UntrustedCheckpointError,
                                 convert_albef_state_dict, extract_state_dict,
                                 format_groups, is_original_albef, load_any,
                                 load_checkpoint_to_model)
from albef_mm.utils.atomic_io import atomic_path  # noqa: E402
from albef_mm.engine.progress import ETAProgress  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an original ALBEF checkpoint to albef_mm')
    parser.add_argument('src', help='original ALBEF checkpoint')
    parser.add_argument('dst', help='output file')
    parser.add_argument('--config', help='task config: convert with its '
                        "model's convert_original_state_dict and check the "
                        'result against the model')
    parser.add_argument('--fusion-layer', type=int, default=None,
                        help='first BERT layer with cross-attention for the '
                        'generic mapping (detected from the weights by '
                        'default)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='read SRC with full unpickling (it can run '
                        'code stored in the file: only for trusted files)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing DST (never SRC)')
    parser.add_argument('--verbose', action='store_true',
                        help='print every key as "old -> new shape"')
    return parser.parse_args(argv)


class _Progress:
    """Numbered stage lines with the time each stage took."""

    def __init__(self, total: int):
        self.total, self.step, self.start = total, 0, None

    def __call__(self, text: str) -> None:
        self.done()
        self.step += 1
        self.start = time.time()
        print(f'[{self.step}/{self.total}] {text} ...', flush=True)

    def done(self) -> None:
        if self.start is not None:
            print(f'      done in {time.time() - self.start:.1f}s',
                  flush=True)
            self.start = None


class _CountingWriter:
    """File object for ``torch.save`` that reports the MiB written (held
    below the total until the file is complete)."""

    def __init__(self, raw, progress: ETAProgress):
        self.raw, self.progress, self.bytes = raw, progress, 0

    def write(self, data) -> int:
        n = self.raw.write(data)
        self.bytes += len(data)
        mib = min(self.bytes >> 20, self.progress.total - 1)
        if mib > self.progress.done:
            self.progress.update(mib - self.progress.done)
        return n

    def flush(self) -> None:
        self.raw.flush()


def save_with_progress(obj: dict, dst: str, interval: float = 5.0) -> None:
    """``torch.save`` to ``dst`` atomically, printing the MiB written of
    the tensors' total with elapsed time and ETA (at most every
    ``interval`` seconds, and when complete)."""
    total = sum(v.numel() * v.element_size()
                for v in obj['state_dict'].values()
                if torch.is_tensor(v)) >> 20
    progress = ETAProgress(max(total, 1), '      written MiB',
                           interval=interval,
                           emit=lambda line: print(line, flush=True))
    with atomic_path(dst) as tmp:
        with open(tmp, 'wb') as raw:
            torch.save(obj, _CountingWriter(raw, progress))
    progress.update(progress.total - progress.done)


def build_meta_model(config: str):
    """The config's model on the meta device, without pretrained weights,
    tokenizer files or a data preprocessor (only its keys and shapes and
    its conversion seam are needed)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from albef_mm.registry import MODELS
    cfg = Config.fromfile(config)
    if not DefaultScope.check_instance_created('albef_mm-convert'):
        DefaultScope.get_instance('albef_mm-convert', scope_name='albef_mm')
    model_cfg = cfg.model.copy()
    model_cfg['data_preprocessor'] = dict(type='BaseDataPreprocessor')
    if 'vision_backbone' in model_cfg:
        model_cfg['vision_backbone'] = dict(model_cfg['vision_backbone'],
                                            pretrained=None)
    model_cfg['pretrained_text'] = None
    with torch.device('meta'):
        return MODELS.build(model_cfg)


def key_map(state: dict, converted: dict) -> list:
    """``(old, new)`` pairs: conversion moves the same tensor objects."""
    new_by_id = {}
    for new, value in converted.items():
        new_by_id.setdefault(id(value), []).append(new)
    return [(old, new) for old, value in state.items()
            for new in new_by_id.get(id(value), [])]


def check_destination(src: str, dst: str, overwrite: bool) -> None:
    """Raise ``ValueError`` naming the problem unless ``dst`` can be
    written without destroying a file: not ``src`` itself, not a folder,
    not a symbolic link, and not an existing file unless ``overwrite``."""
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise ValueError(f'DST {dst} is SRC: refusing to replace the '
                         'original checkpoint; choose another DST')
    if osp.isdir(dst):
        raise ValueError(f'DST {dst} is a folder; give a file name, e.g. '
                         f'{osp.join(dst, "converted.pth")}')
    if osp.islink(dst):
        raise ValueError(f'DST {dst} is a symbolic link; refusing to write '
                         'through it')
    if osp.exists(dst) and not overwrite:
        raise ValueError(f'DST {dst} exists; pass --overwrite to replace it')


_TEXT_LAYER = re.compile(r'text_encoder\.(?:bert\.)?encoder\.layer\.(\d+)\.')


def check_fusion_layer(state: dict, fusion_layer: int) -> None:
    """Raise ``ValueError`` unless ``fusion_layer`` indexes one of the text
    encoder's BERT layers (99 or -1 would silently renumber them)."""
    layers = {int(m.group(1)) for m in map(_TEXT_LAYER.match, state) if m}
    if not 0 <= fusion_layer < len(layers):
        raise ValueError(f'--fusion-layer {fusion_layer} is not a layer of '
                         f'the text encoder (0..{len(layers) - 1}); leave it '
                         'out to detect it from the weights')


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_destination(args.src, args.dst, args.overwrite)
    except ValueError as err:
        print(f'Cannot convert: {err}', file=sys.stderr)
        return 4
    progress = _Progress(4 if args.config else 3)
    size = osp.getsize(args.src) / 2**20 if osp.isfile(args.src) else 0
    progress(f'reading {args.src} ({size:.1f} MiB)')
    try:
        ckpt = load_any(args.src, trust=args.trust_checkpoint)
        state = extract_state_dict(ckpt, args.src)
    except (OSError, ValueError, UntrustedCheckpointError) as err:
        progress.done()
        print(f'Cannot convert: {err}', file=sys.stderr)
        return 3
    if not is_original_albef(state):
        progress.done()
        print(f'{args.src} does not use the original ALBEF key names '
              '(visual_encoder.*, text_encoder.*); nothing to convert.',
              file=sys.stderr)
        return 1
    if args.fusion_layer is not None:
        try:
            check_fusion_layer(state, args.fusion_layer)
        except ValueError as err:
            progress.done()
            print(f'Cannot convert: {err}', file=sys.stderr)
            return 4
    model = None
    if args.config:
        progress(f'building the model of {args.config} on the meta device')
        model = build_meta_model(args.config)
    progress(f'converting {len(state)} keys'
             + (f' with {type(model).__name__}.convert_original_state_dict'
                if model is not None else ' (generic ALBEF mapping)'))
    if model is not None:
        converted, dropped = model.convert_original_state_dict(state)
    else:
        converted, dropped = convert_albef_state_dict(state,
                                                      args.fusion_layer)
    pairs = key_map(state, converted)
    if args.verbose:
        for old, new in pairs:
            print(f'  {old} -> {new} {tuple(converted[new].shape)}')
    print(f'  {len(converted)} tensors from {len(state) - len(dropped)} '
          f'keys, by module:')
    print('\n'.join(format_groups(list(converted), examples=2,
                                  indent='    ')))
    if dropped:
        print(f'  dropped {len(dropped)} keys that albef_mm recomputes or '
              f'does not use: {dropped}')
    unaccounted = set(state) - set(dropped) - {old for old, _ in pairs}
    if unaccounted:
        print(f'  converted by value, not traceable to one key: '
              f'{sorted(unaccounted)}')
    if model is not None:
        try:
            with warnings.catch_warnings():
                # loading into meta tensors is the intended no-op
                warnings.simplefilter('ignore', UserWarning)
                report = load_checkpoint_to_model(
                    model, converted, strict=True, source=args.src)
        except CheckpointMismatchError as err:
            progress.done()
            print(f'The converted weights do not fit {args.config}:\n{err}',
                  file=sys.stderr)
            return 2
        note = ' (momentum weights absent: copied from the online ones ' \
            'when loaded)' if report.momentum_from_online else ''
        print(f'  fits {type(model).__name__}: missing {report.missing}'
              f'{note}')
    progress(f'writing {args.dst}')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(converted_from=osp.abspath(args.src))
    if args.config:
        meta['config'] = osp.abspath(args.config)
    # atomic: a kill during the write leaves DST as it was (or absent)
    save_with_progress(dict(state_dict=converted, meta=meta), args.dst)
    progress.done()
    momentum = sum(1 for k in converted if '_m.' in k)
    print(f'Converted {len(converted)} tensors ({momentum} momentum) from '
          f'{args.src} to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
