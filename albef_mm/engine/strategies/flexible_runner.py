"""``FlexibleRunner`` with ALBEF's training-setup check."""
from mmengine.dist import get_world_size
from mmengine.runner import FlexibleRunner

from albef_mm.registry import RUNNERS
from ..utils import unwrap_model


@RUNNERS.register_module()
class ALBEFFlexibleRunner(FlexibleRunner):
    """MMEngine's ``FlexibleRunner`` (``strategy=dict(type='FSDPStrategy'
    | 'DeepSpeedStrategy', ...)``; select with
    ``runner_type='ALBEFFlexibleRunner'``) plus the check ``ALBEFRunner``
    makes at build time: before the first iteration the model's
    ``validate_train_setup`` refuses a run without the training hooks it
    needs (momentum EMA, queue update, alpha ramp) or whose global batch
    does not divide the ITC queue. (The FSDP and DeepSpeed wrappers call
    the model's forward directly, so the model's own per-step hook check
    does not run; this one does.)

    Checkpoints are read by the strategy: ``load_from`` / ``resume`` take
    albef_mm checkpoints; convert an original ALBEF file first with
    ``tools/model_converters/albef_to_mm.py``. No extra config keys.
    """

    def call_hook(self, fn_name: str, **kwargs) -> None:
        if fn_name == 'before_train':
            self._check_training_setup()
        super().call_hook(fn_name, **kwargs)

    def _check_training_setup(self) -> None:
        model = unwrap_model(self.model)
        validate = getattr(model, 'validate_train_setup', None)
        if validate is None:
            return
        batch = getattr(self.train_dataloader, 'batch_size', None)
        validate([type(h).__name__ for h in self.hooks],
                 batch * get_world_size() if batch else None)
