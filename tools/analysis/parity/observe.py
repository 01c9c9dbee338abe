"""Observe and steer a model from outside, for the parity checks: record
module outputs (forward hooks) and method calls, and replace the results of
the random draws by the fixture's. Nothing in the model knows about it;
everything is undone when the context exits."""
from contextlib import ExitStack, contextmanager
from typing import Callable, Dict, List, Optional


class Recorder:
    """Outputs of watched modules (``outputs[name]``: one entry per call)
    and results of watched methods (``results[name]``)."""

    def __init__(self):
        self.outputs: Dict[str, List] = {}
        self.results: Dict[str, List] = {}
        self.calls: Dict[str, List] = {}


@contextmanager
def _forward_hook(module, name: str, rec: Recorder):
    def hook(_, __, output):
        rec.outputs.setdefault(name, []).append(output)
    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def _method_spy(obj, method: str, name: str, rec: Recorder,
                replace: Optional[Callable] = None):
    """Wrap ``obj.method`` on the instance; ``replace(*args, **kwargs)``
    (optional) supplies the result instead of the real method."""
    original = getattr(obj, method)

    def spy(*args, **kwargs):
        rec.calls.setdefault(name, []).append((args, kwargs))
        result = (replace or original)(*args, **kwargs)
        rec.results.setdefault(name, []).append(result)
        return result

    setattr(obj, method, spy)
    try:
        yield
    finally:
        delattr(obj, method)


@contextmanager
def observe(model, modules=(), methods=(), replacements=None):
    """Record the outputs of ``model.<m>`` for each name in ``modules``
    and the results of ``model.<path>.<method>`` for each ``'path.method'``
    in ``methods``; ``replacements`` maps such a name to a callable that
    supplies the result (injected random draws). Yields a
    :class:`Recorder`."""
    replacements = replacements or {}
    rec = Recorder()
    with ExitStack() as stack:
        for name in modules:
            stack.enter_context(
                _forward_hook(model.get_submodule(name), name, rec))
        for name in methods:
            path, _, method = name.rpartition('.')
            owner = model.get_submodule(path) if path else model
            stack.enter_context(_method_spy(owner, method, name, rec,
                                            replacements.get(name)))
        yield rec
