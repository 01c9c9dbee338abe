"""Tell a streamed (sharded) train dataset which epoch comes next."""
from mmengine.hooks import Hook

from albef_mm.registry import HOOKS


@HOOKS.register_module()
class ShardEpochHook(Hook):
    """Before every training epoch, call ``dataset.set_epoch(epoch,
    consumed_batches)`` on a train dataset that streams its samples
    (:class:`~albef_mm.datasets.ShardedCaptionDataset`): the epoch seeds the
    shard and sample order, and ``consumed_batches`` (non-zero only when a
    run resumed from a checkpoint written inside an epoch) makes every
    reader drop what this rank already trained on. An iterable dataset has
    no sampler for MMEngine's ``DistSamplerSeedHook`` to reach, hence this
    hook. Before training, it checks that the dataset's ``batch_size``
    (if any) is the dataloader's. No config keys; a dataset without
    ``set_epoch`` is left alone."""

    priority = 'NORMAL'

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        wanted = getattr(loader.dataset, 'batch_size', None)
        if wanted is not None and wanted != loader.batch_size:
            # len(dataloader), hence the schedule, assumed the dataset's
            raise ValueError(
                f'train_dataloader.batch_size is {loader.batch_size} but '
                f'its dataset deals out batches of {wanted}: set '
                'train_dataloader.dataset.batch_size to the same value')

    def before_train_epoch(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        if not hasattr(dataset, 'set_epoch'):
            return
        per_epoch = len(runner.train_dataloader)
        consumed = runner.iter - runner.epoch * per_epoch
        dataset.set_epoch(runner.epoch,
                          consumed if 0 < consumed < per_epoch else 0)
