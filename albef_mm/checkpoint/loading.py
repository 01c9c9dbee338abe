"""Loading checkpoints into albef_mm models with a full key report."""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log
from torch import nn

from .albef_keys import convert_albef_state_dict, is_original_albef
from .io import extract_state_dict, load_any
from .pos_embed import interpolate_pos_embed


@dataclass
class LoadReport:
    """What happened to every key of a loaded state dict."""
    source: str
    converted: bool = False
    dropped: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)
    interpolated: List[str] = field(default_factory=list)
    momentum_from_online: bool = False

    def summary(self) -> str:
        lines = [f'Loaded {self.source}'
                 + (' (converted from the original ALBEF layout)'
                    if self.converted else '')]
        for name in ('interpolated', 'dropped', 'missing', 'unexpected',
                     'mismatched'):
            keys = getattr(self, name)
            if keys:
                lines.append(f'  {name} ({len(keys)}): {keys}')
        if self.momentum_from_online:
            lines.append('  momentum weights absent: initialised from the '
                         'online weights')
        return '\n'.join(lines)


def _momentum_key(key: str) -> bool:
    head = key.split('.', 1)[0]
    return head.endswith('_m') or re.search(r'_m\.', key) is not None


def prepare_state_dict(model: nn.Module, state: Dict, source: str,
                       report: LoadReport) -> Dict:
    """Convert original keys and interpolate position embeddings."""
    if is_original_albef(state):
        converter = getattr(model, 'convert_original_state_dict', None)
        if converter is not None:
            state, report.dropped = converter(state)
        else:
            state, report.dropped = convert_albef_state_dict(state)
        report.converted = True
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


def load_checkpoint_to_model(model: nn.Module, ckpt_or_path,
                             strict: bool = True,
                             allow_shape_mismatch: bool = False,
                             ignore_missing: Sequence[str] = (),
                             ignore_unexpected: Sequence[str] = (),
                             logger: str = 'current',
                             source: Optional[str] = None) -> LoadReport:
    """Load an albef_mm or original ALBEF checkpoint into ``model``.

    Every dropped, missing, unexpected, mis-shaped and interpolated key is
    logged. Shape mismatches raise unless ``allow_shape_mismatch``. When the
    checkpoint has no momentum weights at all (released fine-tuned files),
    the momentum branch is copied from the online weights. With ``strict``,
    missing/unexpected keys other than those matching the regexes in
    ``ignore_missing``/``ignore_unexpected`` (plus the model's own
    ``ignorable_missing``/``ignorable_unexpected``) raise. ``source``
    names the checkpoint in messages when a loaded dict is passed.
    """
    if source is None:
        source = ckpt_or_path if isinstance(ckpt_or_path, str) \
            else 'state dict'
    ckpt = load_any(ckpt_or_path) if isinstance(ckpt_or_path, str) \
        else ckpt_or_path
    state = extract_state_dict(ckpt)
    report = LoadReport(source=source)
    state = prepare_state_dict(model, state, source, report)
    own = model.state_dict()
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            report.mismatched.append(
                f'{key}: checkpoint {tuple(value.shape)} vs model '
                f'{tuple(own[key].shape)}')
    if report.mismatched and not allow_shape_mismatch:
        print_log(report.summary(), logger=logger, level=40)
        raise ValueError(
            f'{len(report.mismatched)} keys of {source} do not fit the '
            f'model: {report.mismatched}. Build the model with the '
            'checkpoint\'s sizes (or set allow_shape_mismatch to skip them).')
    mismatched = {m.split(':')[0] for m in report.mismatched}
    loadable = {k: v for k, v in state.items() if k not in mismatched}
    result = model.load_state_dict(loadable, strict=False)
    report.missing = sorted(set(result.missing_keys) | mismatched)
    report.unexpected = list(result.unexpected_keys)
    online_loaded = any(not _momentum_key(k) for k in loadable)
    if online_loaded and not any(_momentum_key(k) for k in loadable) and \
            hasattr(model, 'copy_params'):
        model.copy_params()
        report.momentum_from_online = True
        report.missing = [k for k in report.missing if not _momentum_key(k)]
    print_log(report.summary(), logger=logger)
    if strict:
        pats_m = [re.compile(p) for p in list(ignore_missing) + list(
            getattr(model, 'ignorable_missing', ()))]
        pats_u = [re.compile(p) for p in list(ignore_unexpected) + list(
            getattr(model, 'ignorable_unexpected', ()))]
        bad_m = [k for k in report.missing
                 if not any(p.search(k) for p in pats_m)]
        bad_u = [k for k in report.unexpected
                 if not any(p.search(k) for p in pats_u)]
        if bad_m or bad_u:
            raise KeyError(
                f'{source} does not match {type(model).__name__}: missing '
                f'{bad_m}, unexpected {bad_u}. Check that the checkpoint '
                'belongs to this task/config, or load with strict=False.')
    return report
