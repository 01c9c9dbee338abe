"""Report samples a dataset skipped because their files were bad."""
from mmengine.hooks import Hook
from mmengine.logging import print_log

from albef_mm.registry import HOOKS


@HOOKS.register_module()
class SkippedSampleReportHook(Hook):
    """At the end of every training epoch, log how many samples the train
    dataset skipped (datasets built with ``skip_bad_samples=True`` count
    them in ``num_skipped``) and put the count in the message hub as
    ``train/num_skipped``. No config keys."""

    def after_train_epoch(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        count = getattr(dataset, 'num_skipped', None)
        if count is None:
            return
        runner.message_hub.update_info('train/num_skipped', int(count))
        if count:
            print_log(f'Epoch {runner.epoch}: {count} samples skipped so far '
                      'because their image could not be read (see the '
                      'warnings above for each file).', logger='current',
                      level=30)
