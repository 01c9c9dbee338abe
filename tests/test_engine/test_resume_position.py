"""Mid-epoch resume (albef_mm/engine/runner/resume_position.py): the
batches a resumed epoch skips, and the sampler that skips them."""
import types

import torch
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader, SequentialSampler

from albef_mm.engine.runner.resume_position import (SkipFirstSampler,
                                                    skip_consumed_batches)


def _loop(epoch, it, n=10, batch_size=2):
    loop = EpochBasedTrainLoop.__new__(EpochBasedTrainLoop)
    data = list(range(n))
    loop.dataloader = DataLoader(data, batch_size=batch_size,
                                 sampler=SequentialSampler(data))
    loop._epoch, loop._iter = epoch, it
    return types.SimpleNamespace(train_loop=loop), loop


def _batches(loader):
    return [b.tolist() for b in loader]


def test_resume_in_the_middle_skips_the_trained_samples_once():
    runner, loop = _loop(epoch=1, it=7)  # 5 batches per epoch, 2 trained
    assert skip_consumed_batches(runner) == 2
    assert len(loop.dataloader) == 5  # the epoch's length, not the rest
    assert _batches(loop.dataloader) == [[4, 5], [6, 7], [8, 9]]
    # the next epoch is complete again
    assert _batches(loop.dataloader) == [[0, 1], [2, 3], [4, 5], [6, 7],
                                         [8, 9]]


def test_resume_after_the_first_batch_skips_exactly_that_batch():
    runner, loop = _loop(epoch=1, it=6)  # 5 batches per epoch, 1 trained
    assert skip_consumed_batches(runner) == 1
    assert _batches(loop.dataloader) == [[2, 3], [4, 5], [6, 7], [8, 9]]


def test_resume_at_epoch_boundaries():
    runner, loop = _loop(epoch=2, it=10)  # a checkpoint after epoch 2
    sampler = loop.dataloader.batch_sampler.sampler
    assert skip_consumed_batches(runner) is None
    assert loop.dataloader.batch_sampler.sampler is sampler
    # saved after the last iteration of epoch 1, before its epoch end:
    # the whole epoch was trained, nothing of it is left
    runner, loop = _loop(epoch=1, it=10)
    assert skip_consumed_batches(runner) == 5
    assert _batches(loop.dataloader) == []
    assert len(_batches(loop.dataloader)) == 5


def test_skip_first_sampler_sets_the_torch_state_once_and_forwards_epoch():
    class Recording(SequentialSampler):
        epochs = []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

    torch.manual_seed(3)
    state = torch.get_rng_state()
    expected = torch.rand(1)
    sampler = SkipFirstSampler(Recording(range(4)), 1, torch_state=state)
    torch.rand(5)  # the stream moves on before the first pass
    it = iter(sampler)
    assert next(it) == 1
    assert torch.equal(torch.rand(1), expected)
    assert list(it) == [2, 3]
    assert list(sampler) == [0, 1, 2, 3]
    # no second reset: the stream does not restart at `expected`
    assert not torch.equal(torch.rand(1), expected)
    sampler.set_epoch(4)
    assert Recording.epochs == [4]
