from .bert_layer import (BertLayer, BertLayerStack, BertSelfAttention,
                         additive_mask, capture_attention,
                         causal_additive_mask)
from .bert_init import init_bert_weights

__all__ = [
    'BertLayer', 'BertLayerStack', 'BertSelfAttention', 'additive_mask',
    'capture_attention', 'causal_additive_mask', 'init_bert_weights'
]
