"""Readable reports of checkpoint keys that do not fit a model.

A mismatch between a checkpoint and a model usually concerns whole modules
(a head of another task, a backbone of another size, another key format),
so keys are grouped by module — layer stacks collapsed to
``text_backbone.encoder.layer.*`` — with counts, the layer indices and a
few examples, and the report names the likely cause.
"""
import re
from collections import Counter, OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch

Shape = Tuple[int, ...]


def group_key(key: str) -> Tuple[str, Optional[int], str]:
    """``(group, layer index or None, rest)`` of a state-dict key."""
    parts = key.split('.')
    for i, part in enumerate(parts[1:5], start=1):
        if part.isdigit():
            return '.'.join(parts[:i]) + '.*', int(part), \
                '.'.join(parts[i + 1:])
    return parts[0], None, '.'.join(parts[1:]) or parts[0]


def group_keys(keys: Iterable[str]) -> 'OrderedDict[str, List[str]]':
    """Keys by module group, in order of first appearance."""
    groups: 'OrderedDict[str, List[str]]' = OrderedDict()
    for key in keys:
        groups.setdefault(group_key(key)[0], []).append(key)
    return groups


def _span(indices: Sequence[int]) -> str:
    idx = sorted(set(indices))
    if idx == list(range(idx[0], idx[-1] + 1)):
        return f'{idx[0]}-{idx[-1]}' if len(idx) > 1 else str(idx[0])
    return ','.join(map(str, idx))


def format_groups(keys: Sequence[str], examples: int = 3,
                  notes: Optional[Dict[str, str]] = None,
                  indent: str = '    ') -> List[str]:
    """One line per group: ``group (count, layers a-b): ex1, ex2, ...``.
    ``notes`` adds text after an example key (e.g. its two shapes)."""
    notes = notes or {}
    lines = []
    for group, members in group_keys(keys).items():
        parsed = [group_key(k) for k in members]
        layers = [p[1] for p in parsed if p[1] is not None]
        rests = list(OrderedDict.fromkeys(
            p[2] + (f' {notes[k]}' if k in notes else '')
            for p, k in zip(parsed, members)))
        shown = ', '.join(rests[:examples]) + (', ...' if len(rests) >
                                                 examples else '')
        container = group.rsplit('.', 2)[-2] if group.endswith('.*') \
            and group.count('.') > 1 else ''
        label = {'layer': 'layers', 'blocks': 'blocks'}.get(container,
                                                           'indices')
        where = f', {label} {_span(layers)}' if layers else ''
        lines.append(f'{indent}{group} ({len(members)}{where}): {shown}')
    return lines


def _top(keys: Iterable[str]) -> List[str]:
    return list(OrderedDict.fromkeys(k.split('.', 1)[0] for k in keys))


def _max_layer(keys: Iterable[str], group: str) -> Optional[int]:
    found = [group_key(k)[1] for k in keys if group_key(k)[0] == group]
    found = [i for i in found if i is not None]
    return max(found) if found else None


_TASK_MARKERS = (
    (re.compile(r'(^|\.)(text_decoder|answer_decoder)(_m)?\.'),
     'a VQA model (answer-decoder keys `{}`)'),
    (re.compile(r'^cls_head\.|(^|\.)classifier\.'),
     'a classification model (NLVR2 / SNLI-VE head `{}`)'),
    (re.compile(r'^(bbox|grounding)_head\.'), 'a grounding model (`{}`)'),
)


def likely_causes(missing: Sequence[str], unexpected: Sequence[str],
                  shapes: Dict[str, Tuple[Shape, Shape]],
                  ckpt_keys: Sequence[str], model_keys: Sequence[str],
                  original_keys: Sequence[str] = (), converted: bool = False,
                  meta: Optional[dict] = None) -> List[str]:
    """Human-readable guesses at why a checkpoint does not fit a model.

    Args:
        missing, unexpected: Model keys absent from the checkpoint, and
            checkpoint keys the model lacks (after conversion).
        shapes: Mis-shaped keys: ``{key: (checkpoint shape, model shape)}``.
        ckpt_keys, model_keys: All keys on both sides (after conversion).
        original_keys: The file's keys before conversion.
        converted: Whether the original ALBEF layout was converted.
        meta: The checkpoint's non-weight entries (``config``, ``meta``).
    """
    causes = []
    config = (meta or {}).get('config')
    if isinstance(config, dict) and isinstance(config.get('model'), dict) \
            and 'arch' in config['model']:
        causes.append(
            f"a LAVIS checkpoint (arch={config['model']['arch']!r}); its "
            'ALBEF models use the original key layout')
    for pattern, text in _TASK_MARKERS:
        hit = next((k for k in unexpected if pattern.search(k)), None)
        if hit is not None:
            causes.append('checkpoint of another task: ' + text.format(
                hit.split('.', 1)[0] + '.*'))
    text_layers = [int(m.group(1)) for m in (re.match(
        r'^text_encoder\.(?:bert\.)?encoder\.layer\.(\d+)\.', k)
        for k in original_keys) if m]
    neck_ckpt = _max_layer(unexpected, 'neck.encoder.layer.*')
    if (text_layers and max(text_layers) + 1 == 18) or (
            neck_ckpt is not None and
            (_max_layer(model_keys, 'neck.encoder.layer.*') or 0) < neck_ckpt):
        causes.append(
            'deeper BERT than the model (e.g. the NLVR2 layout: 18 layers, '
            'each fusion layer doubled for the two images)')
    if shapes:
        pairs = Counter()
        for ck, md in shapes.values():
            if len(ck) == len(md):
                pairs.update((a, b) for a, b in zip(ck, md) if a != b)
        if len(shapes) >= 3 and pairs:
            (a, b), _ = pairs.most_common(1)[0]
            causes.append(
                f'another model size: {len(shapes)} tensors differ in shape, '
                f'mostly a dimension of {a} in the checkpoint vs {b} in the '
                'model; build the model with the checkpoint\'s sizes')
        else:
            causes.append('some tensors have other shapes (another head '
                          'size, vocabulary or number of classes)')
    plain = list(unexpected)
    if any(k.startswith(('bert.', 'cls.predictions')) for k in plain):
        causes.append('a HuggingFace BERT file: load it with '
                      '`pretrained_text=<dir>` rather than as a checkpoint')
    if any(k.startswith(('blocks.', 'patch_embed.', 'cls_token'))
           for k in plain):
        causes.append('a bare ViT (DeiT / timm) file: load it through the '
                      'vision backbone\'s `pretrained` setting')
    from .albef_keys import ORIGINAL_TOP_LEVEL
    if not converted and any(k.split('.', 1)[0].removesuffix('_m') in
                             ORIGINAL_TOP_LEVEL for k in plain):
        causes.append('original ALBEF key names mixed with albef_mm names '
                      '(the file was not recognised as the original layout)')
    model_top = set(_top(model_keys))
    ckpt_top = set(_top(ckpt_keys))
    extra = sorted(set(_top(unexpected)) - model_top)
    absent = sorted(t for t in set(_top(missing)) - ckpt_top)
    if ckpt_keys and not (model_top & ckpt_top):
        causes.append('no module in common: another key format '
                      f'(checkpoint modules {sorted(ckpt_top)[:6]})')
    else:
        if extra:
            causes.append(f'modules only in the checkpoint: {extra}')
        if absent:
            causes.append(f'modules the checkpoint lacks: {absent}')
    if missing and all(re.search(r'(^|\.)\w+_m(\.|$)', k)
                       for k in missing):
        causes.append('only momentum (`*_m`) weights are missing: a file '
                      'with part of the momentum branch')
    return causes or ['unknown: compare the groups below']


def _kind(value) -> str:
    """'floating' or 'integer' (bool included): copying across the two
    casts silently."""
    return 'floating' if value.is_floating_point() or value.is_complex() \
        else 'integer'


def check_tensor_kinds(state: Dict, own: Dict, source: str,
                       examples: int = 5) -> None:
    """Refuse checkpoint values that would load without a word and give
    wrong results: a value that is not a tensor (a string, a number), a
    tensor of another kind than the model's (int64 or bool weights where
    the model has floating-point ones; copying casts them silently), and
    floating-point tensors holding NaN or infinity (they would only show
    as a metric of 0 at the end of an evaluation). Only keys the model has
    are checked; float16 / bfloat16 weights for float32 ones are fine.

    Raises:
        ValueError: Naming ``source``, the offending keys (up to
            ``examples`` of each problem) and what they hold.
    """
    problems = []
    not_tensors = [f'{k} ({type(v).__name__} {v!r:.40})'
                   for k, v in state.items()
                   if k in own and not torch.is_tensor(v)]
    if not_tensors:
        problems.append(f'{len(not_tensors)} value(s) are not tensors: '
                        + ', '.join(not_tensors[:examples]))
    tensors = {k: v for k, v in state.items()
               if k in own and torch.is_tensor(v) and not v.is_meta}
    kinds = [f'{k} ({v.dtype}, model {own[k].dtype})'
             for k, v in tensors.items() if _kind(v) != _kind(own[k])]
    if kinds:
        problems.append(f'{len(kinds)} tensor(s) of another kind than the '
                        "model's: " + ', '.join(kinds[:examples]))
    nonfinite = [k for k, v in tensors.items()
                 if _kind(v) == 'floating' and not bool(
                     torch.isfinite(v).all())]
    if nonfinite:
        problems.append(f'{len(nonfinite)} tensor(s) hold NaN or infinite '
                        'values: ' + ', '.join(nonfinite[:examples]))
    if problems:
        raise ValueError(
            f'{source} cannot be loaded: ' + '; '.join(problems) + '. The '
            'file is damaged or was not saved from this kind of model; '
            're-download or re-convert it.')


class CheckpointMismatchError(KeyError, ValueError):
    """A checkpoint does not fit a model. ``.report`` (a ``LoadReport``)
    holds every missing, unexpected and mis-shaped key."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.message = message
        self.report = report

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message
