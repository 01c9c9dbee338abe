"""The allow-list that lets checkpoints load with ``weights_only=True``.

``torch.load(..., weights_only=True)`` only rebuilds tensors and plain
Python containers; any other class or function named in the pickle stops
the load, so a crafted file cannot run code. A checkpoint saved by
MMEngine 0.10 (``Runner.save_checkpoint``) holds a few more objects:

* ``message_hub.log_scalars``: ``mmengine.logging.HistoryBuffer`` objects
  (NumPy arrays inside) whose state refers to the buffer's statistics
  methods, pickled as ``getattr(HistoryBuffer, 'min')`` and so on;
* ``message_hub.runtime_info`` and metrics: NumPy scalars (``eta``,
  ``best_score``) and their dtypes;
* ``rng_state`` (written by ``RandomStateHook``): NumPy's generator state,
  a tuple holding a ``uint32`` array.

Those are allowed here, only inside :func:`checkpoint_safe_globals` (a
context manager: nothing is registered for the rest of the process).
``getattr`` is replaced by :func:`history_buffer_getattr`, which resolves
nothing but the statistics methods of ``HistoryBuffer``, and
``HistoryBuffer`` by :class:`_LoadedHistoryBuffer`, whose ``__setstate__``
does not write the pickled statistics table into the class-level one
(MMEngine's does: a crafted file could remap ``mean`` to ``max`` for the
whole process and every checkpoint saved afterwards).
"""
import contextlib
from typing import Any, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

TRUST_HINT = (
    'If you trust where the file comes from, load it with full unpickling: '
    'pass --trust-checkpoint to tools/train.py, tools/test.py or '
    'tools/model_converters/albef_to_mm.py, or set trust_checkpoint=True '
    'in the config (or trust=True in Python). Full unpickling runs any '
    'code the file contains, so never use it for files of unknown origin.')


# HistoryBuffer registers these on its first instance; a fresh process may
# load a checkpoint before creating one.
_STATISTICS = {'min', 'max', 'current', 'mean'}


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as a pickle may call it: only ``HistoryBuffer``'s
    registered statistics methods (``min``, ``max``, ``current``,
    ``mean``, ...) resolve; anything else is refused."""
    names = _STATISTICS | set(HistoryBuffer._statistics_methods)
    # the pickle names HistoryBuffer, which the safe loader resolves to
    # _LoadedHistoryBuffer
    if obj in (HistoryBuffer, _LoadedHistoryBuffer) and \
            isinstance(name, str) and name in names and \
            callable(vars(HistoryBuffer).get(name)):
        return getattr(HistoryBuffer, name)
    raise torch.serialization.pickle.UnpicklingError(
        f'Refused getattr({obj!r}, {name!r}) while loading a checkpoint: '
        'only HistoryBuffer statistics methods are allowed.')


class _LoadedHistoryBuffer(HistoryBuffer):
    """What a pickled ``HistoryBuffer`` is rebuilt as by the safe loader:
    its pickled statistics table may only name each method by its own name
    (``{'mean': HistoryBuffer.mean}``, as MMEngine saves it); the
    class-level table is left untouched and the object becomes a plain
    ``HistoryBuffer``."""

    def __setstate__(self, state):
        state = dict(state)
        table = state.pop('statistics_methods', {})
        if not isinstance(table, dict):
            raise torch.serialization.pickle.UnpicklingError(
                'Refused a HistoryBuffer state whose statistics table is a '
                f'{type(table).__name__}, not a dict.')
        for name, method in table.items():
            if not (isinstance(name, str) and
                    method is vars(HistoryBuffer).get(name)):
                raise torch.serialization.pickle.UnpicklingError(
                    f'Refused a HistoryBuffer state that maps the '
                    f'statistic {name!r} to {method!r}: loading it would '
                    'change HistoryBuffer for the whole process.')
        self.__class__ = HistoryBuffer
        self.__dict__.update(state)


def _numpy_globals() -> List[Any]:
    """NumPy array / scalar / dtype reconstruction, under the names NumPy
    2 (``numpy._core``) and NumPy 1 (``numpy.core``) pickle them with."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else \
        np.core.multiarray
    out: List[Any] = [np.ndarray, np.dtype]
    for fn in (multiarray._reconstruct, multiarray.scalar):
        out += [(fn, f'numpy._core.multiarray.{fn.__name__}'),
                (fn, f'numpy.core.multiarray.{fn.__name__}')]
    # NumPy 1.25-1.26 pickle a dtype through its class (numpy.dtypes.*).
    for kind in (np.float16, np.float32, np.float64, np.int8, np.int16,
                 np.int32, np.int64, np.uint8, np.uint32, np.uint64,
                 np.bool_):
        out.append(type(np.dtype(kind)))
    return out


def safe_global_list() -> List[Any]:
    """Everything :func:`checkpoint_safe_globals` allows, in the format of
    ``torch.serialization.safe_globals`` (objects or ``(obj, name)``)."""
    return [(_LoadedHistoryBuffer,
             'mmengine.logging.history_buffer.HistoryBuffer'),
            (history_buffer_getattr, 'builtins.getattr')] + _numpy_globals()


@contextlib.contextmanager
def checkpoint_safe_globals():
    """Allow the objects of project checkpoints for ``weights_only`` loads
    inside the ``with`` block only."""
    with torch.serialization.safe_globals(safe_global_list()):
        yield


def allowed_names() -> List[str]:
    """Fully qualified names of the allow-listed globals (for messages)."""
    names = []
    for item in safe_global_list():
        if isinstance(item, tuple):
            names.append(item[1])
        else:
            names.append(f'{item.__module__}.{item.__qualname__}')
    return names
