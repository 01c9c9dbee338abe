"""Switching on MMEngine's TensorBoard backend and checking it can run.

TensorBoard logging is MMEngine's ``TensorboardVisBackend`` in the
visualiser's ``vis_backends``; in a config::

    visualizer = dict(type='Visualizer', vis_backends=[
        dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])

or ``python tools/train.py CONFIG --tensorboard``. Scalars (losses, lr,
alpha, evaluation metrics) are written to
``WORK_DIR/TIMESTAMP/vis_data/`` as event files for ``tensorboard
--logdir WORK_DIR``.
"""
import importlib.util

TENSORBOARD = 'TensorboardVisBackend'


def _backend_types(cfg) -> list:
    visualizer = cfg.get('visualizer') or {}
    return [b.get('type') for b in visualizer.get('vis_backends') or []
            if isinstance(b, dict)]


def enable_tensorboard(cfg) -> None:
    """Add ``TensorboardVisBackend`` to ``cfg.visualizer.vis_backends``
    (in place; no-op when it is there already)."""
    if TENSORBOARD in _backend_types(cfg):
        return
    visualizer = cfg.get('visualizer') or dict(type='Visualizer')
    backends = list(visualizer.get('vis_backends') or
                    [dict(type='LocalVisBackend')])
    backends.append(dict(type=TENSORBOARD))
    visualizer['vis_backends'] = backends
    cfg.visualizer = visualizer


def check_vis_backends(cfg) -> None:
    """Fail before training when the config asks for TensorBoard logging
    and the ``tensorboard`` package is missing (MMEngine would fail only at
    the first log line, with torch's message)."""
    if TENSORBOARD in _backend_types(cfg) and \
            importlib.util.find_spec('tensorboard') is None:
        raise ImportError(
            'visualizer.vis_backends has TensorboardVisBackend, but the '
            "'tensorboard' package is not installed: pip install "
            'tensorboard (or remove the backend / the --tensorboard flag).')
