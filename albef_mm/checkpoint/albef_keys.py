"""Key mapping between original ALBEF state dicts and albef_mm modules.

Original layout (spec §6.2): ``visual_encoder.*``, ``text_encoder.bert.*``
(pre-training; ``text_encoder.*`` without ``bert.`` in fine-tuned models),
``text_encoder.cls.predictions.*``, ``vision_proj``, ``text_proj``, ``temp``,
``itm_head``, queues, and ``*_m`` momentum mirrors. albef_mm splits the
BERT layers at ``fusion_layer`` into ``text_backbone`` and ``neck``.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

ORIGINAL_TOP_LEVEL = ('visual_encoder', 'text_encoder', 'vision_proj',
                      'text_proj', 'temp', 'itm_head', 'image_queue',
                      'text_queue', 'queue_ptr', 'idx_queue')
# Buffers that are not state in albef_mm (recomputed) or unused modules.
_DROPPED = (re.compile(r'(^|\.)position_ids$'), re.compile(r'(^|\.)pooler\.'))
_LAYER = re.compile(r'^encoder\.layer\.(\d+)\.(.*)$')
_CROSS = re.compile(r'^text_encoder\.(?:bert\.)?encoder\.layer\.(\d+)\.'
                    r'crossattention\.')


def is_original_albef(state: Dict) -> bool:
    """Whether ``state`` uses the original ALBEF key names."""
    return any(k.split('.', 1)[0] in ORIGINAL_TOP_LEVEL for k in state) and \
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


def convert_albef_state_dict(state: Dict, fusion_layer: Optional[int] = None
                             ) -> Tuple[OrderedDict, List[str]]:
    """Rename an original ALBEF state dict to albef_mm names.

    Returns:
        (converted, dropped): the renamed state dict and the original keys
        deliberately left out (``position_ids`` buffers, BERT pooler).
    Raises:
        KeyError: naming every key the mapping does not know.
    """
    if fusion_layer is None:
        fusion_layer = detect_fusion_layer(state)
    out, dropped, unknown = OrderedDict(), [], []
    for key, value in state.items():
        if any(p.search(key) for p in _DROPPED):
            dropped.append(key)
            continue
        head, _, rest = key.partition('.')
        suffix = '_m' if head.endswith('_m') else ''
        base = head[:-2] if suffix else head
        new = None
        if base == 'visual_encoder':
            new = f'vision_backbone{suffix}.{rest}'
        elif base == 'text_encoder':
            new = _map_bert(rest, suffix, fusion_layer)
        elif base in ('vision_proj', 'text_proj'):
            new = f'itc_head.{base}{suffix}.{rest}'
        elif key in ('temp', 'image_queue', 'text_queue', 'queue_ptr',
                     'idx_queue'):
            new = f'itc_head.{key}'
        elif base == 'itm_head' and not suffix:
            new = f'itm_head.fc.{rest}'
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise KeyError(f'{len(unknown)} keys of the ALBEF checkpoint have no '
                       f'albef_mm counterpart: {unknown}')
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
