"""Loading checkpoints into albef_mm models with a full key report."""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from torch import nn

from .albef_keys import (UnknownKeysError, convert_albef_state_dict,
                         is_original_albef)
from .io import extract_state_dict, load_any
from .pos_embed import interpolate_pos_embed
from .report import (CheckpointMismatchError, check_tensor_kinds,
                     format_groups, likely_causes)


@dataclass
class LoadReport:
    """What happened to every key of a loaded state dict.

    ``mismatched`` holds ``'key: checkpoint (a, b) vs model (c, d)'``
    strings, ``shapes`` the same as ``{key: (ckpt shape, model shape)}``.
    """
    source: str
    converted: bool = False
    dropped: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)
    shapes: Dict[str, Tuple[tuple, tuple]] = field(default_factory=dict)
    interpolated: List[str] = field(default_factory=list)
    momentum_from_online: bool = False
    momentum_before_load: bool = False

    def summary(self, examples: int = 3) -> str:
        """Grouped summary (counts and examples per module)."""
        lines = [f'Loaded {self.source}'
                 + (' (converted from the original ALBEF layout)'
                    if self.converted else '')]
        notes = {k: f'{a} vs {b}' for k, (a, b) in self.shapes.items()}
        for name in ('interpolated', 'dropped', 'missing', 'unexpected'):
            keys = getattr(self, name)
            if keys:
                lines.append(f'  {name} ({len(keys)}):')
                lines += format_groups(
                    [k.split(':')[0] for k in keys], examples)
        if self.shapes:
            lines.append(f'  mis-shaped, checkpoint vs model '
                         f'({len(self.shapes)}):')
            lines += format_groups(list(self.shapes), examples, notes)
        if self.momentum_from_online:
            lines.append('  momentum weights absent: initialised from the '
                         'online weights')
        if self.momentum_before_load:
            lines.append('  momentum weights absent: copied from the online '
                         'weights before loading (momentum_copy_before_load,'
                         ' the original NLVR.py order)')
        return '\n'.join(lines)

    def full_listing(self) -> str:
        """Every reported key, one per line (logged at DEBUG level)."""
        lines = [f'All keys reported for {self.source}:']
        for name in ('interpolated', 'dropped', 'missing', 'unexpected',
                     'mismatched'):
            lines += [f'  {name}: {k}' for k in getattr(self, name)]
        return '\n'.join(lines)


def _momentum_key(key: str) -> bool:
    head = key.split('.', 1)[0]
    return head.endswith('_m') or re.search(r'_m\.', key) is not None


def prepare_state_dict(model: nn.Module, state: Dict, source: str,
                       report: LoadReport) -> Dict:
    """Convert original keys (through the model's
    ``convert_original_state_dict`` seam), let the model adapt a state dict
    of another layout in project names (its ``adapt_state_dict`` seam, e.g.
    NLVR2 pairing the fusion layers of a pre-training checkpoint) and
    interpolate position embeddings."""
    if is_original_albef(state):
        converter = getattr(model, 'convert_original_state_dict',
                            convert_albef_state_dict)
        state, report.dropped = converter(state)
        report.converted = True
    adapt = getattr(model, 'adapt_state_dict', None)
    if adapt is not None:
        state = adapt(dict(state))
    own = model.state_dict()
    state = dict(state)
    for key, value in list(state.items()):
        if key.endswith('pos_embed') and key in own and \
                value.shape != own[key].shape:
            num_patches = own[key].shape[1] - 1
            state[key] = interpolate_pos_embed(value, num_patches)
            report.interpolated.append(
                f'{key}: {tuple(value.shape)} -> {tuple(state[key].shape)}')
    return state


def mismatch_error(model: nn.Module, report: LoadReport, bad_missing,
                   bad_unexpected, shapes, ckpt_keys, original_keys=(),
                   meta: Optional[dict] = None, headline: str = ''
                   ) -> CheckpointMismatchError:
    """The grouped error for a checkpoint that does not fit ``model``:
    ``bad_missing`` / ``bad_unexpected`` / ``shapes`` are the offending
    keys, ``report`` keeps every key."""
    own = list(model.state_dict())
    causes = likely_causes(bad_missing, bad_unexpected, shapes,
                           list(ckpt_keys), own, list(original_keys),
                           report.converted, meta)
    notes = {k: f'{a} vs {b}' for k, (a, b) in shapes.items()}
    lines = ([headline] if headline else []) + [
        f'{report.source} does not fit {type(model).__name__}: '
        f'{len(bad_missing)} missing, {len(bad_unexpected)} unexpected, '
        f'{len(shapes)} mis-shaped keys (model {len(own)} keys, '
        f'checkpoint {len(ckpt_keys)}'
        + (', converted from the original ALBEF layout'
           if report.converted else '') + ').',
        'Likely cause: ' + '; '.join(causes) + '.']
    for title, keys, extra in (
            ('Missing (in the model, not in the checkpoint)', bad_missing,
             None),
            ('Unexpected (in the checkpoint, not in the model)',
             bad_unexpected, None),
            ('Mis-shaped (checkpoint vs model)', list(shapes), notes)):
        if keys:
            lines.append(f'  {title}:')
            lines += format_groups(keys, 3, extra)
    lines.append(
        'Every key is in this error\'s `.report` (missing / unexpected / '
        'mismatched) and in the log at DEBUG level. Use a checkpoint of '
        'this task and model size (converting original ALBEF files), or '
        'allow keys the model may lack with strict=False / '
        'load_strict=False (shape mismatches: allow_shape_mismatch=True).')
    return CheckpointMismatchError('\n'.join(lines), report)


def load_checkpoint_to_model(model: nn.Module, ckpt_or_path,
                             strict: bool = True,
                             allow_shape_mismatch: bool = False,
                             ignore_missing: Sequence[str] = (),
                             ignore_unexpected: Sequence[str] = (),
                             logger: str = 'current',
                             source: Optional[str] = None,
                             trust: bool = False) -> LoadReport:
    """Load an albef_mm or original ALBEF checkpoint into ``model``.

    Every dropped, missing, unexpected, mis-shaped and interpolated key is
    logged (grouped by module at INFO, one by one at DEBUG). Shape
    mismatches raise unless ``allow_shape_mismatch``. When the checkpoint
    has no momentum weights at all (released fine-tuned files), the
    momentum branch is copied from the online weights after loading (before
    it, as ALBEF's ``NLVR.py``, for a model whose
    ``momentum_copy_before_load`` is True). With ``strict``,
    missing/unexpected keys other than those matching the regexes in
    ``ignore_missing``/``ignore_unexpected`` (plus the model's own
    ``ignorable_missing``/``ignorable_unexpected``) raise, after the
    matching keys were loaded (the model's load hooks decide what is
    missing); unknown original keys and shape mismatches raise before the
    model is touched. ``source`` names the checkpoint in messages when a
    loaded dict is passed; ``trust`` allows full unpickling of a path (see
    :func:`albef_mm.checkpoint.load_any`).

    Raises:
        CheckpointMismatchError: the keys do not fit (a ``KeyError`` and
            ``ValueError``; ``.report`` holds every key).
    """
    if source is None:
        source = str(ckpt_or_path) if not isinstance(ckpt_or_path, dict) \
            else 'state dict'
    ckpt = ckpt_or_path if isinstance(ckpt_or_path, dict) else \
        load_any(str(ckpt_or_path), trust=trust)
    state = extract_state_dict(ckpt, source)
    meta = {k: ckpt[k] for k in ('config', 'meta')
            if isinstance(ckpt.get(k), dict)}
    report = LoadReport(source=source)
    original_keys = list(state) if is_original_albef(state) else []
    try:
        state = prepare_state_dict(model, state, source, report)
    except UnknownKeysError as err:
        report.converted = True
        report.unexpected = list(err.keys)
        raise mismatch_error(
            model, report, [], err.keys, {}, list(state), original_keys,
            meta, headline=f'{len(err.keys)} keys of the original ALBEF '
            f'layout have no counterpart in {type(model).__name__}\'s '
            'conversion (its convert_original_state_dict).') from err
    own = model.state_dict()
    check_tensor_kinds(state, own, source)
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            shapes = (tuple(value.shape), tuple(own[key].shape))
            report.shapes[key] = shapes
            report.mismatched.append(
                f'{key}: checkpoint {shapes[0]} vs model {shapes[1]}')
    loadable = {k: v for k, v in state.items() if k not in report.shapes}
    online_loaded = any(not _momentum_key(k) for k in loadable if k in own)
    copy_momentum = online_loaded and hasattr(model, 'copy_params') and \
        not any(_momentum_key(k) for k in loadable)
    pats_m = [re.compile(p) for p in list(ignore_missing) + list(
        getattr(model, 'ignorable_missing', ()))]
    pats_u = [re.compile(p) for p in list(ignore_unexpected) + list(
        getattr(model, 'ignorable_unexpected', ()))]

    def offending(missing, unexpected):
        if copy_momentum:
            missing = [k for k in missing if not _momentum_key(k)]
        if not strict:
            return missing, [], []
        return missing, [k for k in missing if k not in report.shapes and
                         not any(p.search(k) for p in pats_m)], \
            [k for k in unexpected if not any(p.search(k) for p in pats_u)]

    if report.shapes and not allow_shape_mismatch:
        # raise before touching the model; the missing / unexpected keys
        # shown are estimated from the names (load hooks may add keys)
        report.missing, bad_m, bad_u = offending(
            sorted(set(own) - set(loadable)),
            [k for k in loadable if k not in own])
        report.unexpected = [k for k in loadable if k not in own]
        print_log(report.full_listing(), logger=logger, level=10)
        raise mismatch_error(model, report, bad_m, bad_u, report.shapes,
                             list(state), original_keys, meta)
    # the original NLVR.py order, on request: the teacher is copied from
    # the student before the file loads (it keeps the initial weights)
    copy_before = copy_momentum and getattr(
        model, 'momentum_copy_before_load', False)
    if copy_before:
        model.copy_params()
        report.momentum_before_load = True
    # Missing / unexpected keys come from load_state_dict itself, so that
    # a module's own load hooks (e.g. a neck replicating layers) count.
    result = model.load_state_dict(loadable, strict=False)
    report.missing, bad_m, bad_u = offending(
        sorted(set(result.missing_keys) | set(report.shapes)),
        list(result.unexpected_keys))
    report.unexpected = list(result.unexpected_keys)
    if copy_momentum and not copy_before:
        model.copy_params()
        report.momentum_from_online = True
    print_log(report.full_listing(), logger=logger, level=10)
    if bad_m or bad_u:
        raise mismatch_error(model, report, bad_m, bad_u, {}, list(state),
                             original_keys, meta)
    print_log(report.summary(), logger=logger)
    return report
