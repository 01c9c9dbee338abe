"""MMEngine runner with ALBEF's build-time checks and checkpoint loading."""
from mmengine.dist import get_world_size
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.registry import RUNNERS
from ..utils import unwrap_model


@RUNNERS.register_module()
class ALBEFRunner(Runner):
    """``Runner`` (select with ``runner_type='ALBEFRunner'``) that

    * fails at build time when a training config lacks a hook the model
      needs (``MomentumUpdateHook``, ``QueueUpdateHook``,
      ``AlphaWarmupHook`` for pre-training) or when the global batch does
      not divide the ITC queue;
    * loads original ALBEF checkpoints (pre-training ``{'model': ...}`` or
      bare fine-tuned state dicts) as well as its own, converting keys,
      interpolating position embeddings and reporting every dropped,
      missing, unexpected or mis-shaped key (mismatches raise; with
      ``load_strict=True`` (default) unexpected/missing keys outside the
      model's declared ignorable ones raise too).

    Extra config key: ``load_strict`` (bool).
    """

    def __init__(self, *args, load_strict: bool = True, **kwargs):
        self.load_strict = load_strict
        super().__init__(*args, **kwargs)
        if self._train_loop is not None:
            self._check_training_setup()

    @classmethod
    def from_cfg(cls, cfg) -> 'ALBEFRunner':
        cfg = cfg.copy()
        load_strict = cfg.pop('load_strict', True)
        runner = super().from_cfg(cfg)
        # from_cfg builds through cls(...) without our key; set it after.
        runner.load_strict = load_strict
        return runner

    @property
    def unwrapped_model(self):
        return unwrap_model(self.model)

    def _check_training_setup(self) -> None:
        model = self.unwrapped_model
        names = [type(h).__name__ for h in self.hooks]
        missing = getattr(model, 'missing_train_hooks', lambda _: [])(names)
        if missing:
            example = ', '.join(f"dict(type='{h}')" for h in missing)
            raise ValueError(
                f'{type(model).__name__} needs the training hooks {missing}; '
                f'add them to the config: custom_hooks = [{example}, ...]')
        itc = getattr(model, 'itc_head', None)
        loader = self._train_dataloader
        if itc is not None and isinstance(loader, dict):
            batch = loader.get('batch_size')
            if batch:
                itc.check_queue_size(batch * get_world_size())

    def load_checkpoint(self, filename, map_location='cpu', strict=False,
                        revise_keys=[(r'^module.', '')]):
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        load_checkpoint_to_model(self.unwrapped_model, checkpoint,
                                 strict=self.load_strict or strict,
                                 logger=self.logger.instance_name,
                                 source=str(filename))
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
