"""Resume an epoch-based run in the middle of an epoch.

MMEngine's ``EpochBasedTrainLoop`` restores the epoch and the iteration
count from a checkpoint but then runs the resumed epoch from its first
batch: a checkpoint written in the middle of an epoch
(``CheckpointHook(by_epoch=False)``, or a hook that saves every N
iterations) is resumed with the epoch's first batches trained twice and the
schedule (LR, alpha ramp) shifted. :func:`skip_consumed_batches` makes the
resumed epoch continue with the batch after the checkpoint instead: the
sampler (shuffled with ``seed + epoch``, the same order as before) skips the
indices of the batches already trained, without loading them.

Random streams: the checkpoint holds the main process's generator states
after its last iteration (RandomStateHook). Starting an epoch draws one
number from torch's global generator (the DataLoader iterator's base
seed), which the uninterrupted run drew at the start of the epoch, before
the checkpoint; so the resumed epoch sets torch's state again right after
that draw, when the first index is taken. With ``num_workers=0`` the
resumed epoch then draws what the uninterrupted one drew. Data workers
restart from ``seed + worker_id`` and have not drawn the skipped batches'
augmentations: with ``num_workers > 0`` the data order is exact, the
augmentations of the rest of that epoch are not.
"""
import logging
from typing import Iterator, Optional

import torch
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import Sampler


class SkipFirstSampler(Sampler):
    """Wraps a sampler and drops the first ``skip`` indices of its next
    pass only (the resumed epoch); later passes are the sampler's own.

    ``len()`` stays the wrapped sampler's so that the epoch length the loop
    and the hooks compute with (the alpha ramp, the log lines) is the
    epoch's, not the remainder's.

    Args:
        sampler: The sampler to wrap (``set_epoch`` is forwarded).
        skip (int): Indices to drop from the next pass.
        torch_state (torch.Tensor, optional): torch's global generator
            state to set when the next pass takes its first index.
    """

    def __init__(self, sampler, skip: int,
                 torch_state: Optional[torch.Tensor] = None):
        self.sampler = sampler
        self.skip = int(skip)
        self.torch_state = torch_state

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        state, self.torch_state = self.torch_state, None
        if state is not None:
            torch.set_rng_state(state)
        indices = iter(self.sampler)
        for _ in range(skip):
            if next(indices, None) is None:
                return
        yield from indices

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)


def skip_consumed_batches(runner) -> Optional[int]:
    """After ``runner.resume``: make an epoch-based loop resumed in the
    middle of an epoch skip the batches its checkpoint already trained.

    Returns:
        int | None: The number of skipped batches (None when the loop is
        not epoch-based or the checkpoint is at an epoch boundary).
    """
    loop = runner.train_loop
    if not isinstance(loop, EpochBasedTrainLoop):
        return None  # IterBasedTrainLoop advances its own iterator
    per_epoch = len(loop.dataloader)
    done = loop.iter - loop.epoch * per_epoch
    if done <= 0:
        return None
    batch_sampler = getattr(loop.dataloader, 'batch_sampler', None)
    if done > per_epoch or batch_sampler is None or \
            not hasattr(batch_sampler, 'sampler'):
        print_log(
            f'Resumed at iteration {loop.iter} of epoch {loop.epoch} with '
            f'{per_epoch} iterations per epoch: cannot tell which batches '
            'of this epoch were trained (did the dataset or the batch size '
            'change?); the epoch starts from its first batch.',
            logger='current', level=logging.WARNING)
        return None
    # batch_size * done indices of this rank's share of the epoch
    batch_sampler.sampler = SkipFirstSampler(
        batch_sampler.sampler, done * batch_sampler.batch_size,
        torch_state=torch.get_rng_state())
    print_log(f'Resumed in the middle of epoch {loop.epoch + 1}: skipping '
              f'its first {done} of {per_epoch} batches (trained before the '
              'checkpoint)', logger='current')
    return done
