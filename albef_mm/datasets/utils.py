"""Helpers shared by the dataset classes."""
import json
import os.path as osp
from typing import Callable, List, Sequence, Union

from albef_mm.registry import TRANSFORMS


def build_pipeline(pipeline: Sequence[Union[dict, Callable]]) -> List:
    """Build transform configs with ``albef_mm``'s TRANSFORMS registry.

    MMEngine's ``Compose`` builds dicts in the *current default scope*, which
    is unset outside a Runner; building them here makes datasets work
    without ``init_default_scope('albef_mm')`` (tests, notebooks, tools).
    """
    return [TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in pipeline]


def not_utf8_error(path: str, err: UnicodeDecodeError) -> ValueError:
    """The error for a text file that is not UTF-8: names the file, the
    byte offset and how to re-encode it."""
    return ValueError(
        f'{path} is not UTF-8 text (byte {err.start}: {err.reason}); '
        'annotation files must be UTF-8: re-encode it, e.g. `iconv -f '
        'latin1 -t utf-8`')


def read_json(path: str):
    """Load a UTF-8 json file; errors name the file.

    Raises:
        ValueError: invalid json, or bytes that are not UTF-8 (the message
            gives the byte offset and how to re-encode the file).
    """
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except UnicodeDecodeError as err:
        raise not_utf8_error(path, err) from err
    except json.JSONDecodeError as err:
        raise ValueError(f'{path} is not valid json: {err}') from err


def load_json_list(path: str) -> list:
    """Load a json file that must hold a list; errors name the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: invalid json or not UTF-8, or not a list.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Annotation file not found: {path}. Check `data_root` and '
            '`ann_file` in the dataset config.')
    data = read_json(path)
    if not isinstance(data, list):
        raise ValueError(f'{path} must hold a json list of records, got '
                         f'{type(data).__name__}')
    return data


def check_image_caption_record(rec, where: str) -> None:
    """Raise unless ``rec`` is a dict with a non-empty ``image`` path and a
    ``caption`` key; ``where`` (file and record index) starts the message."""
    if not isinstance(rec, dict):
        raise ValueError(f'{where}: expected a dict with "image" and '
                         f'"caption", got {type(rec).__name__}')
    for key in ('image', 'caption'):
        if key not in rec:
            raise KeyError(f'{where}: missing key "{key}" (record keys: '
                           f'{sorted(rec)})')
    if not isinstance(rec['image'], str) or not rec['image']:
        raise ValueError(f'{where}: "image" must be a non-empty path '
                         f'string, got {rec["image"]!r}')
