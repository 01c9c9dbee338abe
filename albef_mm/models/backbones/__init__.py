from .bert_text import BertEmbeddings, BertTextEncoder
from .vit import ALBEFViT

__all__ = ['ALBEFViT', 'BertEmbeddings', 'BertTextEncoder']
