"""Key mapping between original ALBEF state dicts and albef_mm modules.

Original layout: ``visual_encoder.*``, ``text_encoder.bert.*``
(pre-training; ``text_encoder.*`` without ``bert.`` in fine-tuned models),
``text_encoder.cls.predictions.*``, ``vision_proj``, ``text_proj``, ``temp``,
``itm_head``, queues, and ``*_m`` momentum mirrors. albef_mm splits the
BERT layers at ``fusion_layer`` into ``text_backbone`` and ``neck``.

The mapping is a list of :class:`KeyRule` s, one per original top-level
module; a task model adds its own (VQA's ``text_decoder``, NLVR2's
``cls_head``, ...) in ``convert_original_state_dict`` through
``convert_albef_state_dict(state, extra_rules=...)``.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

ORIGINAL_TOP_LEVEL = ('visual_encoder', 'text_encoder', 'vision_proj',
                      'text_proj', 'temp', 'itm_head', 'image_queue',
                      'text_queue', 'queue_ptr', 'idx_queue')
# Buffers that are not state in albef_mm (recomputed) or unused modules.
_DROPPED = (re.compile(r'(^|\.)position_ids$'), re.compile(r'(^|\.)pooler\.'))
_LAYER = re.compile(r'^encoder\.layer\.(\d+)\.(.*)$')
_CROSS = re.compile(r'^text_encoder\.(?:bert\.)?encoder\.layer\.(\d+)\.'
                    r'crossattention\.')


class UnknownKeysError(KeyError):
    """Original keys no conversion rule knows (``.keys`` lists them)."""

    def __init__(self, keys: List[str], message: str):
        super().__init__(message)
        self.keys = list(keys)

    def __str__(self) -> str:
        return str(self.args[0])


def is_original_albef(state: Dict) -> bool:
    """Whether ``state`` uses the original ALBEF key names: it has the
    original image or text encoder (every ALBEF model has both; a lone
    ``temp`` or ``itm_head`` does not make a file ALBEF's) and none of this
    project's encoder names."""
    return any(k.startswith(('visual_encoder.', 'visual_encoder_m.',
                             'text_encoder.', 'text_encoder_m.'))
               for k in state) and \
        not any(k.startswith(('vision_backbone.', 'text_backbone.'))
                for k in state)


def detect_fusion_layer(state: Dict) -> int:
    """Index of the first BERT layer with cross-attention."""
    layers = [int(m.group(1)) for m in map(_CROSS.match, state) if m]
    if not layers:
        raise KeyError('No text_encoder...crossattention keys found: this '
                       'is not an ALBEF text encoder state dict.')
    return min(layers)


def _map_bert(rest: str, suffix: str, fusion_layer: int,
              text_prefix: str = 'text_backbone',
              neck_prefix: str = 'neck',
              head_prefix: str = 'mlm_head') -> Optional[str]:
    """Map a key inside ``text_encoder`` (after the module name)."""
    if rest.startswith('cls.'):
        return f'{head_prefix}{suffix}.{rest[4:]}'
    if rest.startswith('bert.'):
        rest = rest[5:]
    if rest.startswith('embeddings.'):
        return f'{text_prefix}{suffix}.{rest}'
    m = _LAYER.match(rest)
    if m:
        i, tail = int(m.group(1)), m.group(2)
        if i < fusion_layer:
            return f'{text_prefix}{suffix}.encoder.layer.{i}.{tail}'
        return f'{neck_prefix}{suffix}.encoder.layer.{i - fusion_layer}.{tail}'
    return None


# A rule's mapper gets (rest, suffix, fusion_layer): the key after the
# module name ('' for a bare key such as ``temp``), '_m' for a momentum copy
# ('' otherwise) and the detected first fusion layer. It returns the new key,
# a list of new keys (the value is copied to each; an empty list drops the
# key) or None (unknown key: reported as an error).
Mapper = Callable[[str, str, int], Union[None, str, Sequence[str]]]


@dataclass(frozen=True)
class KeyRule:
    """How one original top-level module (or bare key) maps to albef_mm.

    Args:
        module: Original top-level name, e.g. ``'text_decoder'``,
            ``'cls_head'`` or a bare key such as ``'temp'``.
        target: A prefix string (``'itc_head.vision_proj'`` maps
            ``vision_proj_m.weight`` to ``itc_head.vision_proj_m.weight``;
            for a bare key it is the whole new key) or a :data:`Mapper`.
        momentum: Whether ``<module>_m.*`` keys are accepted too.
    """
    module: str
    target: Union[str, Mapper]
    momentum: bool = True

    def apply(self, rest: str, suffix: str, fusion_layer: int):
        if callable(self.target):
            return self.target(rest, suffix, fusion_layer)
        return f'{self.target}{suffix}' + (f'.{rest}' if rest else '')


def bert_rule(module: str, text_prefix: str = 'text_backbone',
              neck_prefix: str = 'neck', head_prefix: str = 'mlm_head',
              fusion_layer: Optional[int] = None) -> KeyRule:
    """A rule for an original xbert module (``BertModel`` or
    ``BertForMaskedLM``/``BertLMHeadModel``): layers below the fusion layer
    go to ``text_prefix``, the others (renumbered from 0) to
    ``neck_prefix``, ``cls.*`` to ``head_prefix``. ``fusion_layer``
    overrides the detected one (e.g. 0 for VQA's answer decoder)."""
    def mapper(rest: str, suffix: str, detected: int) -> Optional[str]:
        layer = detected if fusion_layer is None else fusion_layer
        return _map_bert(rest, suffix, layer, text_prefix, neck_prefix,
                         head_prefix)
    return KeyRule(module, mapper)


# The layout shared by the pre-training and retrieval models.
DEFAULT_RULES: Tuple[KeyRule, ...] = (
    KeyRule('visual_encoder', 'vision_backbone'),
    bert_rule('text_encoder'),
    KeyRule('vision_proj', 'itc_head.vision_proj'),
    KeyRule('text_proj', 'itc_head.text_proj'),
    KeyRule('temp', 'itc_head.temp', momentum=False),
    KeyRule('image_queue', 'itc_loss.image_queue', momentum=False),
    KeyRule('text_queue', 'itc_loss.text_queue', momentum=False),
    KeyRule('queue_ptr', 'itc_loss.queue_ptr', momentum=False),
    KeyRule('idx_queue', 'itc_loss.idx_queue', momentum=False),
    KeyRule('itm_head', 'itm_head.fc', momentum=False),
)


def _find_rule(rules: Sequence[KeyRule], key: str):
    """First rule matching ``key``: (rule, rest, suffix) or None."""
    head, _, rest = key.partition('.')
    for rule in rules:
        if head == rule.module:
            return rule, rest, ''
        if rule.momentum and head == rule.module + '_m':
            return rule, rest, '_m'
    return None


def convert_albef_state_dict(state: Dict, fusion_layer: Optional[int] = None,
                             extra_rules: Sequence[KeyRule] = ()
                             ) -> Tuple[OrderedDict, List[str]]:
    """Rename an original ALBEF state dict to albef_mm names.

    Args:
        state: Original state dict.
        fusion_layer: First BERT layer with cross-attention in
            ``text_encoder`` (detected from the keys by default).
        extra_rules: A task's own :class:`KeyRule` s, tried before
            :data:`DEFAULT_RULES` (so a task can also replace a default
            rule, e.g. NLVR2's ``text_encoder`` layout).

    Returns:
        (converted, dropped): the renamed state dict and the original keys
        deliberately left out (``position_ids`` buffers, BERT pooler, keys
        a rule maps to nothing).
    Raises:
        KeyError: naming every key no rule knows.
    """
    if fusion_layer is None:
        fusion_layer = detect_fusion_layer(state)
    rules = tuple(extra_rules) + DEFAULT_RULES
    out, dropped, unknown = OrderedDict(), [], []
    for key, value in state.items():
        if any(p.search(key) for p in _DROPPED):
            dropped.append(key)
            continue
        found = _find_rule(rules, key)
        new = found[0].apply(found[1], found[2], fusion_layer) \
            if found else None
        if new is None:
            unknown.append(key)
        elif isinstance(new, str):
            out[new] = value
        elif not new:
            dropped.append(key)
        else:
            for name in new:
                out[name] = value
    if unknown:
        raise UnknownKeysError(
            unknown,
            f'{len(unknown)} keys of the ALBEF checkpoint have no albef_mm '
            f'counterpart: {unknown}. A task whose original model has other '
            'modules maps them in its convert_original_state_dict (pass '
            'extra_rules to convert_albef_state_dict).')
    return out, dropped


def convert_hf_bert_state_dict(state: Dict, fusion_layer: int
                               ) -> Tuple[OrderedDict, List[str]]:
    """Rename a HuggingFace ``bert-base-uncased`` (BertForMaskedLM or
    BertModel) state dict to ``text_backbone`` / ``neck`` / ``mlm_head``.

    Old TF-era names ``LayerNorm.gamma/beta`` are accepted. Returns the
    converted dict and the keys left out (pooler, NSP head,
    ``position_ids``).
    """
    out, skipped = OrderedDict(), []
    for key, value in state.items():
        key2 = key.replace('LayerNorm.gamma', 'LayerNorm.weight').replace(
            'LayerNorm.beta', 'LayerNorm.bias')
        if key2.startswith('cls.seq_relationship') or any(
                p.search(key2) for p in _DROPPED):
            skipped.append(key)
            continue
        new = _map_bert(key2, '', fusion_layer)
        if new is None:
            skipped.append(key)
        else:
            out[new] = value
    return out, skipped
