"""Test after training: the weights and the split the paper reports.

ALBEF's fine-tuning scripts report test figures of the best validation
epoch: ``Retrieval.py``, ``NLVR.py`` (dev -> test-P), ``VE.py`` (val ->
test) and ``Grounding.py`` (val -> testA / testB) evaluate the test split
every epoch and the figure read off is the one of the best validation
epoch. Here the run keeps the best-validation checkpoint
(``default_hooks.checkpoint.save_best``) and, with ``test_after_train =
True`` in the config, ``tools/train.py`` loads it after training and runs
the test loop once (:func:`run_test_after_train`). Without a best
checkpoint (no ``save_best``, or no validation: VQA, whose test split has
no answers) the last weights are tested, as ``VQA.py`` does.

Every test figure is logged (console and log file) on a line that names the weights
(checkpoint file, epoch, its validation score) and the split (the test
data file(s)), so that a number is never read off the wrong epoch or
split.
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmengine.dist import barrier


def best_checkpoint(runner) -> Optional[Tuple[str, str, float]]:
    """``(path, metric, score)`` of the best-validation checkpoint the run's
    ``CheckpointHook`` (``save_best``) wrote, or None when it keeps none
    (no ``save_best``, or no validation ran). With several ``save_best``
    keys, the first one decides."""
    from mmengine.hooks import CheckpointHook
    hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                None)
    if hook is None or not hook.save_best:
        return None
    keys = hook.key_indicators
    info = runner.message_hub.runtime_info
    suffix = '' if len(keys) == 1 else f'_{keys[0]}'
    path = info.get(f'best_ckpt{suffix}')
    if not path:
        return None
    return path, keys[0], info.get(f'best_score{suffix}')


def evaluated_split_files(runner) -> List[str]:
    """The annotation file name(s) of the test dataloader's dataset (the
    split the test figures come from); ``['?']`` when the dataset names
    none."""
    loader = runner.cfg.get('test_dataloader') or {}
    dataset = loader.get('dataset', {}) if isinstance(loader, dict) else {}
    ann = dataset.get('ann_file') if isinstance(dataset, dict) else None
    if ann is None:
        return ['?']
    files = [ann] if isinstance(ann, str) else list(ann)
    return [osp.basename(str(f)) for f in files]


def figure_lines(metrics: Dict[str, float], weights: str,
                 split_files: List[str]) -> List[str]:
    """One line per test figure: ``<key> = <value>``, the weights and the
    split it was measured on. Bookkeeping entries (``num_*`` counts) are
    left out; they are in the ordinary test log line."""
    split = ', '.join(split_files)
    lines = []
    for key in sorted(metrics):
        value = metrics[key]
        if key.rsplit('/', 1)[-1].startswith('num_') or \
                not isinstance(value, (int, float)):
            continue
        lines.append(f'test figure {key} = {value:.4f} | weights: {weights} '
                     f'| split: {split}')
    return lines


def run_test_after_train(runner) -> Dict[str, float]:
    """Test the weights the paper's protocol reports: those of the best
    validation epoch when the config keeps a best checkpoint, else the last
    epoch's. Logs which weights are tested, then every test
    figure with its weights and split; returns the test metrics."""
    best = best_checkpoint(runner)
    if best is None:
        weights = f'last weights (epoch {runner.epoch})'
        message = (f'Testing the last weights (epoch {runner.epoch}): the '
                   'config keeps no best checkpoint (no save_best in '
                   'default_hooks.checkpoint, or no validation ran).')
    else:
        path, key, score = best
        barrier()  # rank 0 may still be writing the file
        checkpoint = runner.load_checkpoint(path)
        epoch = checkpoint.get('meta', {}).get('epoch', '?')
        weights = (f'{osp.basename(path)} (epoch {epoch}, best val {key} = '
                   f'{score:.4f})')
        message = (f'Testing the best checkpoint {osp.basename(path)} '
                   f'(epoch {epoch}, val {key} = {score:.4f}) instead of '
                   f'the last weights (epoch {runner.epoch}).')
    runner.logger.info(message)
    metrics = runner.test()
    split_files = evaluated_split_files(runner)
    for line in figure_lines(metrics or {}, weights, split_files):
        runner.logger.info(line)
    return metrics
