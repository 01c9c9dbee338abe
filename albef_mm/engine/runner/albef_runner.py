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

    * fails at build time when the model's ``validate_train_setup`` refuses
      the run (a training hook the model needs is missing, or the global
      batch does not fit its state, e.g. the ITC queue length);
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
        """Let the model refuse a run it cannot train (missing hooks, a
        global batch that does not fit its state) before the first step."""
        model = self.unwrapped_model
        validate = getattr(model, 'validate_train_setup', None)
        if validate is None:
            return
        loader = self._train_dataloader
        batch = loader.get('batch_size') if isinstance(loader, dict) else \
            getattr(loader, 'batch_size', None)
        validate([type(h).__name__ for h in self.hooks],
                 batch * get_world_size() if batch else None)

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
