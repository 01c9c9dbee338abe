"""The cross-attention fusion encoder ("multimodal encoder") of ALBEF.

Registered as a *neck*, as the project lays out its models. Note for mmpretrain
users: there a neck is a feature projection; here it is the six BERT fusion
layers (self-attention → cross-attention to image tokens → FFN).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule

from albef_mm.registry import MODELS
from ..layers import BertLayerStack, additive_mask, init_bert_weights
from ..layers.bert_layer import CROSS_ATTN_MASK_VALUE, SELF_ATTN_MASK_VALUE

ImageStates = Union[torch.Tensor, Sequence[torch.Tensor]]


@MODELS.register_module()
class FusionEncoder(BaseModule):
    """BERT fusion layers with cross-attention to image tokens.

    State-dict names: ``encoder.layer.{i}.*`` (HF BERT layer names, with
    ``crossattention.*``); layer ``i`` here is BERT layer
    ``fusion_layer + i`` of the original model.

    Args:
        hidden_size (int): Text width (768).
        num_layers (int): Fusion layers (6).
        num_heads (int): Attention heads.
        intermediate_size (int): FFN width.
        encoder_width (int): Width of the image tokens (the ViT width).
        layer_norm_eps (float): LayerNorm epsilon.
        hidden_dropout (float): Dropout after projections.
        attn_dropout (float): Attention dropout.
        init_std (float): Std of the random init.
        with_cp (bool): Activation checkpointing per layer (saves memory,
            costs a second forward of each layer in backward).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self, hidden_size: int = 768, num_layers: int = 6,
                 num_heads: int = 12, intermediate_size: int = 3072,
                 encoder_width: int = 768, layer_norm_eps: float = 1e-12,
                 hidden_dropout: float = 0.1, attn_dropout: float = 0.1,
                 init_std: float = 0.02, with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.hidden_size = hidden_size
        self.init_std = init_std
        self.encoder = BertLayerStack(
            num_layers, cross_attention=True, hidden_size=hidden_size,
            num_heads=num_heads, intermediate_size=intermediate_size,
            encoder_width=encoder_width, layer_norm_eps=layer_norm_eps,
            hidden_dropout=hidden_dropout, attn_dropout=attn_dropout)
        self.encoder.with_cp = with_cp
        init_bert_weights(self, init_std)

    @property
    def layer(self):
        return self.encoder.layer

    def init_weights(self):
        if self.init_cfg is None:
            init_bert_weights(self, self.init_std)
        else:
            super().init_weights()

    @staticmethod
    def _cross_mask(states: torch.Tensor, mask: Optional[torch.Tensor],
                    dtype: torch.dtype) -> Optional[torch.Tensor]:
        # An all-ones image mask adds nothing: skip it so SDPA can use its
        # fused kernels.
        if mask is None:
            return None
        return additive_mask(mask, dtype, CROSS_ATTN_MASK_VALUE)

    def project_image_kv(self, image_embeds: torch.Tensor
                         ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """Every layer's cross-attention ``(key, value)`` of the image
        tokens ``[B, N, Dv]``, head-split ``[B, H, N, hd]``: compute once,
        index rows (``k.index_select(0, idx)``) for any pairing of texts
        with these images, and pass as ``image_kv`` (gradients flow back
        through the index)."""
        return [layer.crossattention.self.project_kv(image_embeds)
                for layer in self.layer]

    def forward(self, text_embeds: torch.Tensor, text_mask: torch.Tensor,
                image_embeds: Optional[ImageStates],
                image_mask: Union[None, torch.Tensor,
                                  List[Optional[torch.Tensor]]] = None,
                image_kv: Optional[Sequence[Tuple[torch.Tensor,
                                                  torch.Tensor]]] = None
                ) -> torch.Tensor:
        """Fuse text states ``[B, L, D]`` with image tokens ``[B, N, Dv]``.

        Args:
            text_embeds: Output of the text encoder.
            text_mask: 0/1 text attention mask ``[B, L]``.
            image_embeds: Image tokens, or a list of them (NLVR2: layer
                ``i`` attends to element ``i mod len(list)``); None when
                ``image_kv`` is given.
            image_mask: Optional 0/1 mask(s) over image tokens; None means
                every token is valid (ALBEF's image masks are all ones).
            image_kv: Per-layer cross-attention ``(key, value)`` rows for
                these texts (see :meth:`project_image_kv`), used instead of
                projecting ``image_embeds``.
        Returns:
            Fused states ``[B, L, D]``.
        """
        if image_kv is not None:
            if len(image_kv) != len(self.layer):
                raise ValueError(f'image_kv has {len(image_kv)} layers, the '
                                 f'neck {len(self.layer)}')
            dtype = text_embeds.dtype
            self_mask = additive_mask(text_mask, dtype, SELF_ATTN_MASK_VALUE)
            cross = None if image_mask is None else self._cross_mask(
                None, image_mask, dtype)
            return self.encoder(text_embeds, self_mask, None, cross,
                                cross_kv=image_kv)
        dtype = text_embeds.dtype
        self_mask = additive_mask(text_mask, dtype, SELF_ATTN_MASK_VALUE)
        if isinstance(image_embeds, (list, tuple)):
            masks = image_mask if isinstance(image_mask, (list, tuple)) \
                else [image_mask] * len(image_embeds)
            cross = [self._cross_mask(s, m, dtype)
                     for s, m in zip(image_embeds, masks)]
        else:
            cross = self._cross_mask(image_embeds, image_mask, dtype)
        return self.encoder(text_embeds, self_mask, image_embeds, cross)
