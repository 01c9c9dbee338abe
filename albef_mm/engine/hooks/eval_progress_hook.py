"""Progress with ETA for MMEngine's iteration-based evaluation loops."""
from mmengine.hooks import Hook

from albef_mm.registry import HOOKS
from ..progress import ETAProgress


@HOOKS.register_module()
class EvalProgressHook(Hook):
    """Logs ``val: batch i/N (p%), elapsed, ETA`` lines during validation
    and testing with the loops that run batch by batch (``ValLoop`` /
    ``TestLoop``: VQA, NLVR2, SNLI-VE, grounding, zero-shot). The retrieval
    loops report their own stages. ``ALBEFRunner`` registers it when a
    config does not.

    Args:
        interval (float): Least seconds between two lines (the first and
            the last batch always log). Defaults to 30.
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: float = 30.0):
        self.interval = interval
        self.progress = None

    def _start(self, runner, mode: str, dataloader) -> None:
        try:
            total = len(dataloader)
        except TypeError:  # an iterable without length
            self.progress = None
            return
        self.progress = ETAProgress(total, f'{mode}: batch',
                                    interval=self.interval,
                                    emit=runner.logger.info)

    def before_val_epoch(self, runner) -> None:
        self._start(runner, 'val', runner.val_dataloader)

    def before_test_epoch(self, runner) -> None:
        self._start(runner, 'test', runner.test_dataloader)

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        if self.progress is not None:
            self.progress.update()

    after_test_iter = after_val_iter
