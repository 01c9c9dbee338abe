from .albef_keys import (convert_albef_state_dict, convert_hf_bert_state_dict,
                         detect_fusion_layer, is_original_albef)
from .hf_bert import load_hf_bert
from .io import extract_state_dict, load_any
from .loading import LoadReport, load_checkpoint_to_model
from .pos_embed import interpolate_pos_embed

__all__ = [
    'convert_albef_state_dict', 'convert_hf_bert_state_dict',
    'detect_fusion_layer', 'is_original_albef', 'load_hf_bert',
    'extract_state_dict', 'load_any', 'LoadReport',
    'load_checkpoint_to_model', 'interpolate_pos_embed'
]
