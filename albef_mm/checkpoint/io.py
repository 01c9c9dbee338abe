"""Reading checkpoint files safely: local paths or URLs, any ALBEF layout.

Every file is read with ``torch.load(weights_only=True)`` and the scoped
allow-list of :mod:`.safety`; full unpickling (which can run code stored
in the file) happens only when the caller passes ``trust=True``. Files
that are not checkpoints (a directory, an empty or truncated file, a text
or JSON file, ...) get an error saying what was found.
"""
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Dict

import torch
from mmengine.logging import print_log

from .safety import TRUST_HINT, allowed_names, checkpoint_safe_globals


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects outside the safe allow-list."""


class CheckpointFileError(ValueError):
    """The file is not a readable checkpoint (empty, truncated, other)."""


def _describe_file(path: str) -> str:
    """What a file that failed to load looks like, from its first bytes."""
    with open(path, 'rb') as f:
        head = f.read(64)
    size = osp.getsize(path)
    if head.startswith(b'PK\x03\x04'):
        return f'a zip archive of {size} bytes'
    if head[:1] == b'\x80':
        return f'a Python pickle of {size} bytes'
    if head.startswith(b'\x93NUMPY'):
        return 'a NumPy .npy array (use the .pth checkpoint instead)'
    if head.startswith(b'\x89HDF'):
        return 'an HDF5 file (e.g. Keras weights), not a PyTorch checkpoint'
    stripped = head.lstrip()
    if stripped[:1] in (b'{', b'['):
        return f'a JSON / text file starting with {stripped[:40]!r}'
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError:
        return f'{size} bytes of unknown binary data starting with ' \
            f'{head[:16]!r}'
    return f'a text file starting with {text[:40]!r}'


def _is_safetensors(path: str) -> bool:
    with open(path, 'rb') as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], 'little')
    return 0 < n < osp.getsize(path) and head[8:9] == b'{'


def _check_local_file(path: str) -> None:
    if osp.isdir(path):
        found = sorted(f for f in os.listdir(path)
                       if f.endswith(('.pth', '.pt', '.bin', '.safetensors')))
        hint = f' It holds {found[:5]}.' if found else ''
        raise IsADirectoryError(
            f'Checkpoint {path} is a directory, not a file: point '
            f'`load_from` / the checkpoint argument at a file inside it '
            f'(or use `resume=True` to pick the latest of a work dir).{hint}')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Checkpoint {path} not found: check the path given to '
            '`load_from`, `--resume`, tools/test.py or the converter.')
    if osp.getsize(path) == 0:
        raise CheckpointFileError(
            f'Checkpoint {path} is empty (0 bytes): the save was probably '
            'interrupted; use an earlier checkpoint or save it again.')


def _unsafe_globals(path: str) -> list:
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) format: not inspectable
        return []
    allowed = set(allowed_names())
    return sorted(g for g in found if g not in allowed)


# What the weights-only unpickler says when the file names a disallowed
# object (as opposed to a file that is not a torch pickle at all).
_UNSAFE_MARKERS = ('Unsupported global', 'unsupported GLOBAL',
                   'unrecognized function', 'Can only build',
                   'Can only create', 'Refused getattr',
                   'Refused a HistoryBuffer', 'is blocked')


def _weights_only_detail(message: str) -> str:
    """The unpickler's own reason inside torch's long weights-only text:
    the line naming a refused object (torch 2.14 puts it on a line of its
    own, "Trying to load unsupported GLOBAL posix.system whose module posix
    is blocked."), else the text after "WeightsUnpickler error:", else the
    first line."""
    lines = [line.strip() for line in message.strip().splitlines()
             if line.strip()]
    for line in lines:
        if any(m in line for m in _UNSAFE_MARKERS):
            return line.replace('WeightsUnpickler error: ', '')
    match = re.search(r'WeightsUnpickler error:\s*(.*?)\s*(?:Check the '
                      r'documentation|$)', message, re.S)
    return (match.group(1) if match else message).strip().splitlines()[0]


def _first_sentence(err: Exception) -> str:
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return re.split(r'(?<=\.)\s', text)[0]


def _sniff(path: str) -> None:
    """Refuse files that are neither a torch zip nor a pickle stream."""
    with open(path, 'rb') as f:
        head = f.read(2)
    if head[:2] != b'PK' and head[:1] != b'\x80':
        raise CheckpointFileError(
            f'{path} is not a PyTorch checkpoint: it is '
            f'{_describe_file(path)}.')


def load_local(path: str, map_location='cpu', trust: bool = False) -> Any:
    """Load a local checkpoint file (``.pth``/``.pt``/``.bin`` or
    ``.safetensors``); see the module docstring for the safety rules.

    Raises:
        IsADirectoryError, FileNotFoundError: wrong path.
        CheckpointFileError: empty, truncated or not a checkpoint.
        UntrustedCheckpointError: objects outside the allow-list, without
            ``trust``.
    """
    path = osp.expanduser(str(path))
    _check_local_file(path)
    if path.endswith('.safetensors') or _is_safetensors(path):
        from safetensors.torch import load_file
        device = map_location if isinstance(map_location, str) else 'cpu'
        return load_file(path, device=device)
    _sniff(path)
    if trust:
        print_log(
            f'Loading {path} with full unpickling (trust_checkpoint): the '
            'file may run code while it is read; this is safe only for '
            'files from a source you trust.', logger='current', level=30)
        loader = dict(weights_only=False)
    else:
        loader = dict(weights_only=True)
    try:
        with checkpoint_safe_globals():
            return torch.load(path, map_location=map_location, **loader)
    except pickle.UnpicklingError as err:
        detail = _weights_only_detail(str(err))
        # a refusal, whatever torch's wording: a marker, or a global
        # outside the allow-list in the file's pickle
        extra = [] if trust else _unsafe_globals(path)
        if trust or not (extra or any(m in str(err)
                                      for m in _UNSAFE_MARKERS)):
            raise CheckpointFileError(
                f'Checkpoint {path} could not be unpickled ({detail}); it '
                f'is {_describe_file(path)}.') from err
        found = f' It names {extra}.' if extra else f' ({detail})'
        raise UntrustedCheckpointError(
            f'Checkpoint {path} holds Python objects outside the allow-list '
            'of safe checkpoint types (tensors, containers, NumPy arrays, '
            f'MMEngine log buffers), so it was not loaded.{found} '
            f'{TRUST_HINT}') from err
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as err:
        what = _describe_file(path)
        if 'zip' in what and zipfile.is_zipfile(path):
            raise CheckpointFileError(
                f'{path} is not a PyTorch checkpoint: it is a complete zip '
                f'archive that torch cannot read (torch says: '
                f'{_first_sentence(err)}).') from err
        if 'zip' in what:
            raise CheckpointFileError(
                f'Checkpoint {path} is truncated or corrupted ({what}; '
                f'torch says: {_first_sentence(err)}). Copy or save it '
                'again.') from err
        raise CheckpointFileError(
            f'{path} is not a PyTorch checkpoint: it is {what} '
            f'(torch says: {_first_sentence(err)}).') from err


def load_any(path: str, map_location='cpu', trust: bool = False,
             progress: bool = True) -> Any:
    """Load a checkpoint safely (full unpickling only with ``trust``) from
    a local path, an ``http(s)://`` URL, an MMEngine scheme name
    (``torchvision://``, ``open-mmlab://``, ...) or a registered model name
    (see :mod:`.sources`); downloads go to the project's cache with a
    progress bar (``progress``). A cached file the safe loader refuses is
    removed from the cache.
    """
    from albef_mm.utils.download import cache_dir, discard
    from .sources import resolve
    local, _ = resolve(str(path), progress=progress)
    try:
        return load_local(local, map_location=map_location, trust=trust)
    except (UntrustedCheckpointError, CheckpointFileError) as err:
        cached = osp.abspath(local).startswith(cache_dir() + os.sep)
        if not cached:
            raise
        discard(local)
        raise type(err)(f'{err} The file was removed from the download '
                        f'cache ({local}).') from err


def extract_state_dict(ckpt, source: str = 'checkpoint') -> Dict:
    """The state dict inside a checkpoint: ALBEF/mmengine ``{'model'|
    'state_dict': ...}`` or a bare state dict (released fine-tuned files).
    ``source`` names the file in errors."""
    if not isinstance(ckpt, dict):
        raise CheckpointFileError(
            f'{source} holds a {type(ckpt).__name__}, not a checkpoint '
            '(a dict of tensors, or a dict with `state_dict` / `model`).')
    state = ckpt
    for key in ('state_dict', 'model', 'module'):
        if key in ckpt and isinstance(ckpt[key], dict):
            state = ckpt[key]
            break
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    if not any(torch.is_tensor(v) for v in state.values()):
        keys = list(ckpt)[:8]
        raise CheckpointFileError(
            f'{source} holds no weights: a dict with keys {keys} and no '
            'tensors (expected model weights, or a `state_dict` / `model` '
            'entry holding them).')
    return state
