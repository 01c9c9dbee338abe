"""Initialising text backbone + fusion neck (+ MLM head) from HF BERT."""
import os.path as osp

import torch
from mmengine.logging import print_log
from torch import nn

from .albef_keys import convert_hf_bert_state_dict

_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


def read_hf_bert_weights(name_or_path: str) -> dict:
    """State dict of a HF BERT checkpoint: a local directory (or weight
    file) or, for users online, a hub name."""
    path = osp.expanduser(name_or_path)
    if osp.isfile(path):
        files = [path]
    elif osp.isdir(path):
        files = [osp.join(path, f) for f in _WEIGHT_FILES
                 if osp.isfile(osp.join(path, f))]
        if not files:
            raise FileNotFoundError(
                f'{path} holds none of {_WEIGHT_FILES}: point '
                '`pretrained_text` at a saved BERT (e.g. bert-base-uncased).')
    else:
        try:
            from huggingface_hub import hf_hub_download
            files = [hf_hub_download(name_or_path, 'model.safetensors')]
        except Exception as err:  # offline, unknown name, ...
            raise FileNotFoundError(
                f'BERT weights {name_or_path!r} are neither a local path nor '
                f'downloadable ({type(err).__name__}: {err}). Download '
                'bert-base-uncased once and pass its directory.') from err
    file = files[0]
    if file.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(file)
    return torch.load(file, map_location='cpu', weights_only=True)


def load_hf_bert(model: nn.Module, name_or_path: str) -> dict:
    """Load BERT layers ``< fusion_layer`` into ``model.text_backbone``,
    the rest into ``model.neck`` and ``cls.predictions`` into
    ``model.mlm_head`` (when present). The neck's cross-attention blocks
    are expected to be missing (freshly initialised); anything else
    missing or mis-shaped raises. Returns the report dict."""
    fusion_layer = len(model.text_backbone.layer)
    state, skipped = convert_hf_bert_state_dict(
        read_hf_bert_weights(name_or_path), fusion_layer)
    own = model.state_dict()
    has_mlm = hasattr(model, 'mlm_head')
    targets = {k: v for k, v in state.items()
               if has_mlm or not k.startswith('mlm_head.')}
    unexpected = [k for k in targets if k not in own]
    mismatched = [f'{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}'
                  for k, v in targets.items()
                  if k in own and v.shape != own[k].shape]
    if unexpected or mismatched:
        raise ValueError(f'BERT weights {name_or_path} do not fit the model:'
                         f' unexpected {unexpected}, mismatched {mismatched}')
    model.load_state_dict(targets, strict=False)
    prefixes = ('text_backbone.', 'neck.') + (('mlm_head.', )
                                              if has_mlm else ())
    missing = [k for k in own if k.startswith(prefixes) and
               k not in targets and '_m.' not in k]
    fresh = [k for k in missing if '.crossattention.' in k]
    other = [k for k in missing if k not in fresh
             and not k.endswith(('predictions.decoder.weight',
                                 'predictions.decoder.bias'))]
    if other:
        raise KeyError(f'BERT weights {name_or_path} lack {other}')
    print_log(f'Loaded BERT weights from {name_or_path}: {len(targets)} '
              f'tensors; freshly initialised cross-attention tensors: '
              f'{len(fresh)}; skipped from the file: {skipped}',
              logger='current')
    return dict(loaded=list(targets), fresh=fresh, skipped=skipped)
