"""The one ALBEF training-iteration sequence, for code that drives a model
without a runner (benchmarks, the parity tool, tests).

A runner runs ``before_train_iter`` hooks (momentum EMA, alpha), the
wrapped model's ``train_step`` (forward, backward, optimizer step) and
``after_train_iter`` hooks (enqueue). :func:`run_train_iteration` runs the
very same hook objects around any step function, so the order lives in
the hooks alone.
"""
from types import SimpleNamespace
from typing import Any, Callable, Optional, Sequence

from mmengine.hooks import Hook

from albef_mm.registry import HOOKS

# Hooks that need a real runner's loop state (AlphaWarmupHook reads the
# iteration and the epoch length): outside a runner alpha stays as set.
_RUNNER_ONLY = ('AlphaWarmupHook', )


def default_step_hooks(model) -> list:
    """Instances of the model's required training hooks that act on every
    iteration (momentum EMA, queue update)."""
    names = getattr(model, 'required_train_hooks', ())
    return [HOOKS.build(dict(type=n)) for n in names if n not in _RUNNER_ONLY]


def run_train_iteration(model, step: Callable[[], Any],
                        hooks: Optional[Sequence[Hook]] = None) -> Any:
    """``before_train_iter`` of each hook → ``step()`` →
    ``after_train_iter`` of each hook; returns what ``step`` returned.

    Args:
        model: The (unwrapped) ALBEF model.
        step: Forward + backward (+ optimizer step), e.g.
            ``lambda: model.train_step(data, optim_wrapper)``.
        hooks: Hook instances; default :func:`default_step_hooks`.
    """
    hooks = default_step_hooks(model) if hooks is None else list(hooks)
    runner = SimpleNamespace(model=model)
    for hook in hooks:
        hook.before_train(runner)
    for hook in hooks:
        hook.before_train_iter(runner, 0, None)
    out = step()
    for hook in hooks:
        hook.after_train_iter(runner, 0, None, out)
    return out
