"""Check every ``type=`` of a config against the registries before anything
is built, so a misspelt type fails at once with the closest names."""
import difflib
from typing import Iterable, List, Tuple

from mmengine.registry import FUNCTIONS

from albef_mm import registry as reg

# config section -> registries its (nested) ``type`` keys may name
_SECTIONS = {
    'model': (reg.MODELS, reg.TOKENIZERS),
    'train_dataloader': (reg.DATASETS, reg.TRANSFORMS, reg.DATA_SAMPLERS,
                         FUNCTIONS),
    'val_dataloader': (reg.DATASETS, reg.TRANSFORMS, reg.DATA_SAMPLERS,
                       FUNCTIONS),
    'test_dataloader': (reg.DATASETS, reg.TRANSFORMS, reg.DATA_SAMPLERS,
                        FUNCTIONS),
    'val_evaluator': (reg.METRICS, reg.EVALUATORS),
    'test_evaluator': (reg.METRICS, reg.EVALUATORS),
    'custom_hooks': (reg.HOOKS, ),
    'default_hooks': (reg.HOOKS, ),
    'train_cfg': (reg.LOOPS, ),
    'val_cfg': (reg.LOOPS, ),
    'test_cfg': (reg.LOOPS, ),
    'param_scheduler': (reg.PARAM_SCHEDULERS, ),
}


def _types(node, path: str) -> Iterable[Tuple[str, str]]:
    if isinstance(node, dict):
        value = node.get('type')
        if isinstance(value, str):
            yield path, value
        for key, child in node.items():
            yield from _types(child, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, child in enumerate(node):
            yield from _types(child, f'{path}[{i}]')


def _known(registries) -> List[str]:
    names = set()
    for registry in registries:
        registry.import_from_location()
        current = registry
        while current is not None:  # the registry and its MMEngine parents
            names.update(current.module_dict)
            current = current.parent
    return sorted(names)


def check_config_types(cfg) -> None:
    """Raise ``KeyError`` naming the config key, the unknown type and the
    closest registered names; scoped names (``mmengine.X``) are left to
    MMEngine."""
    problems = []
    for section, registries in _SECTIONS.items():
        if section not in cfg or cfg[section] is None:
            continue
        known = None
        for path, name in _types(cfg[section], section):
            if '.' in name:
                continue
            known = known or _known(registries)
            if name not in known:
                close = difflib.get_close_matches(name, known, n=3,
                                                  cutoff=0.6)
                hint = f'; did you mean {close}?' if close else ''
                problems.append(f'{path}.type={name!r} is not registered'
                                f'{hint}')
    if problems:
        raise KeyError(
            'unknown types in the config: ' + '; '.join(problems) +
            ' (`python tools/analysis/print_config.py --registered` lists '
            'every registered name)')
