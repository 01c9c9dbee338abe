"""The NLVR2 fusion encoder: fusion layers in pairs, one per image of the
pair, sharing their cross-attention key / value projections."""
import re
from typing import Dict, List, Optional

from mmengine.logging import print_log

from albef_mm.registry import MODELS
from .fusion_encoder import FusionEncoder

_LAYER_KEY = re.compile(r'^encoder\.layer\.(\d+)\.(.+)$')


def replicate_unpaired_layers(state: Dict, prefix: str, num_pairs: int
                              ) -> Optional[List[int]]:
    """Turn the fusion layers of a single-image checkpoint into pairs,
    in place.

    If the keys under ``prefix + 'encoder.layer.'`` name exactly the layers
    ``0 .. num_pairs - 1`` (a 6-layer fusion encoder of pre-training or
    retrieval), layer ``l`` is copied to layers ``2l`` and ``2l + 1``
    (original ALBEF: pre-trained BERT layer ``6 + l`` → layers
    ``6 + 2l`` and ``7 + 2l`` of the 18-layer NLVR2 encoder); both copies
    are the same tensor. Any other layout (already paired, or foreign) is
    left untouched.

    Returns:
        The replicated source layer indices, or None when nothing changed.
    """
    found = {}
    for key in state:
        if key.startswith(prefix):
            m = _LAYER_KEY.match(key[len(prefix):])
            if m:
                found.setdefault(int(m.group(1)), []).append(key)
    if sorted(found) != list(range(num_pairs)):
        return None
    moved = {}
    for layer, keys in found.items():
        for key in keys:
            tail = _LAYER_KEY.match(key[len(prefix):]).group(2)
            value = state.pop(key)
            for new in (2 * layer, 2 * layer + 1):
                moved[f'{prefix}encoder.layer.{new}.{tail}'] = value
    state.update(moved)
    return sorted(found)


@MODELS.register_module()
class NLVRFusionEncoder(FusionEncoder):
    """:class:`FusionEncoder` for an image *pair* (ALBEF's NLVR2 model).

    ``num_layers`` (12) fusion layers form ``num_layers / 2`` pairs
    ``(2k, 2k+1)``; called with ``image_embeds=[image0, image1]`` even
    layers cross-attend to image 0 and odd layers to image 1. In each pair
    the cross-attention ``key`` and ``value`` Linear modules are one module
    (the odd layer's), so the weights are one tensor and its gradient sums
    the contributions of both layers; queries, output projections,
    self-attention and FFN stay separate. The state dict still lists the
    shared weights under both layers, as the original.

    Loading a checkpoint whose fusion encoder has ``num_layers / 2``
    unpaired layers (pre-training, retrieval) replicates layer ``l`` into
    layers ``2l`` and ``2l + 1`` (see :func:`replicate_unpaired_layers`);
    a paired checkpoint (text-assignment pre-training, NLVR2) loads as is.

    Args:
        num_layers (int): Fusion layers, even (12).
        **kwargs: The other :class:`FusionEncoder` arguments
            (``hidden_size``, ``num_heads``, ``intermediate_size``,
            ``encoder_width``, ``layer_norm_eps``, ``hidden_dropout``,
            ``attn_dropout``, ``init_std``, ``with_cp``, ``init_cfg``).
    """

    def __init__(self, num_layers: int = 12, **kwargs):
        if num_layers < 2 or num_layers % 2:
            raise ValueError('NLVRFusionEncoder needs an even number of '
                             f'layers (pairs), got num_layers={num_layers}')
        super().__init__(num_layers=num_layers, **kwargs)
        self.num_pairs = num_layers // 2
        self.share_cross_attention()

    def share_cross_attention(self) -> None:
        """Make the even layer of each pair use the odd layer's
        cross-attention key / value modules."""
        for k in range(self.num_pairs):
            even = self.layer[2 * k].crossattention.self
            odd = self.layer[2 * k + 1].crossattention.self
            even.key = odd.key
            even.value = odd.value

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Runs before the children read their keys from the same dict, so
        # replicated keys load like any others (and count in the report).
        done = replicate_unpaired_layers(state_dict, prefix, self.num_pairs)
        if done is not None:
            print_log(f'{prefix or "neck."}: fusion layers {done} of an '
                      'unpaired checkpoint replicated into layer pairs '
                      f'(l -> 2l, 2l+1) for {self.num_pairs} pairs',
                      logger='current')
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
