from .attention_capture import AttentionCapture
from .bert_layer import (BertLayer, BertLayerStack, BertSelfAttention,
                         additive_mask, causal_additive_mask)
from .bert_init import init_bert_weights

__all__ = [
    'AttentionCapture', 'BertLayer', 'BertLayerStack', 'BertSelfAttention',
    'additive_mask', 'causal_additive_mask', 'init_bert_weights'
]
