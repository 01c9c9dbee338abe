from .albef_keys import (DEFAULT_RULES, KeyRule, UnknownKeysError, bert_rule,
                         convert_albef_state_dict, convert_hf_bert_state_dict,
                         detect_fusion_layer, is_original_albef)
from .hf_bert import load_hf_bert
from .io import (CheckpointFileError, UntrustedCheckpointError,
                 extract_state_dict, load_any)
from .loading import LoadReport, load_checkpoint_to_model
from .mmengine_schemes import load_safely  # registers the safe loaders
from .pos_embed import interpolate_pos_embed
from .report import CheckpointMismatchError, format_groups, group_keys
from .safety import checkpoint_safe_globals

__all__ = [
    'DEFAULT_RULES', 'KeyRule', 'UnknownKeysError', 'bert_rule',
    'convert_albef_state_dict', 'convert_hf_bert_state_dict',
    'detect_fusion_layer', 'is_original_albef', 'load_hf_bert',
    'CheckpointFileError', 'UntrustedCheckpointError', 'extract_state_dict',
    'load_any', 'load_safely', 'LoadReport', 'load_checkpoint_to_model',
    'interpolate_pos_embed', 'CheckpointMismatchError', 'format_groups',
    'group_keys', 'checkpoint_safe_globals'
]
