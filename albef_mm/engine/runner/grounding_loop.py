"""Evaluation loops of weakly supervised grounding (ALBEF ``Grounding.py:
val``): Grad-CAM per (image, expression), then proposal ranking in the
metric.

The loops run under ``torch.no_grad`` like every MMEngine evaluation loop;
gradients are switched on only inside the model's Grad-CAM computation
(``ALBEFGrounding.gradcam``), which differentiates with respect to the
captured attention maps and leaves parameter gradients untouched.
"""
from typing import Dict, Union

from mmengine.runner import TestLoop, ValLoop
from torch.utils.data import DataLoader

from albef_mm.registry import LOOPS
from ..utils import unwrap_model


class GroundingEvalMixin:
    """Checks shared by the grounding val/test loops (the iteration is
    MMEngine's: ``val_step`` / ``test_step`` → ``predict``)."""

    def _check_model(self) -> None:
        model = unwrap_model(self.runner.model)
        if not callable(getattr(model, 'gradcam', None)):
            raise TypeError(
                f'{type(self).__name__} evaluates Grad-CAM grounding and '
                f'needs a model with a gradcam() method (ALBEFGrounding), '
                f'got {type(model).__name__}')


@LOOPS.register_module()
class GroundingValLoop(GroundingEvalMixin, ValLoop):
    """Validation loop of Grad-CAM grounding; the metric
    (``GroundingAccuracy``) reports ``val_d`` etc.

    Config keys (``val_cfg``): ``fp16`` (bool, autocast on GPU).
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator, fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)

    def run(self) -> dict:
        self._check_model()
        return super().run()


@LOOPS.register_module()
class GroundingTestLoop(GroundingEvalMixin, TestLoop):
    """Test loop of Grad-CAM grounding (``testA_d``, ``testB_d``, ...).

    Config keys (``test_cfg``): ``fp16`` (bool, autocast on GPU).
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator, fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)

    def run(self) -> dict:
        self._check_model()
        return super().run()
