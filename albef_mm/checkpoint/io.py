"""Reading checkpoint files: local paths or URLs, any ALBEF layout."""
import os.path as osp

import torch


def load_any(path: str, map_location='cpu'):
    """``torch.load`` a local file (full unpickling: checkpoints are files
    the user chose) or download a URL into the torch hub cache."""
    if path.startswith(('http://', 'https://')):
        return torch.hub.load_state_dict_from_url(
            path, map_location=map_location, check_hash=False)
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint {path} not found.')
    return torch.load(path, map_location=map_location, weights_only=False)


def extract_state_dict(ckpt) -> dict:
    """The state dict inside a checkpoint: ALBEF/mmengine ``{'model'|
    'state_dict': ...}`` or a bare state dict (released fine-tuned files)."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'A checkpoint must be a dict, got {type(ckpt)}')
    state = ckpt
    for key in ('state_dict', 'model', 'module'):
        if key in ckpt and isinstance(ckpt[key], dict):
            state = ckpt[key]
            break
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state
