"""MMEngine runner with ALBEF's build-time checks and checkpoint loading."""
import os
import os.path as osp

from mmengine.dist import get_world_size, master_only
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from albef_mm.checkpoint import (checkpoint_safe_globals, extract_state_dict,
                                 load_any, load_checkpoint_to_model)
from albef_mm.registry import RUNNERS
from albef_mm.utils.atomic_io import atomic_path, commit, temporary_name
from ..config_check import check_config_types
from ..hooks.atomic_checkpoint_hook import AtomicCheckpointHook
from ..hooks.eval_progress_hook import EvalProgressHook
from ..vis_backends import check_vis_backends
from .resume_position import skip_consumed_batches
from ..utils import unwrap_model


def read_checkpoint(filename, map_location='cpu', trust: bool = False):
    """Local paths and URLs through the safe loader; other MMEngine
    schemes (``open-mmlab://``, ...) through MMEngine's loaders with the
    same allow-list (always weights-only)."""
    name = str(filename)
    if '://' not in name or name.startswith(('http://', 'https://')):
        return load_any(name, map_location=map_location, trust=trust)
    with checkpoint_safe_globals():
        return _load_checkpoint(name, map_location=map_location)


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
      model's declared ignorable ones raise too);
    * reads every checkpoint (``load_from``, ``resume``, ``tools/test.py``)
      with ``torch.load(weights_only=True)`` and a scoped allow-list of the
      few MMEngine / NumPy types project checkpoints hold; full unpickling
      (which can run code stored in the file) only with
      ``trust_checkpoint=True``.

    * applies the top-level key ``nonfinite_loss``: ``'raise'`` (default)
      stops training at a NaN / infinite loss naming the term, the
      iteration and the last checkpoint; ``'skip'`` logs such iterations
      and skips their update (needs
      ``optim_wrapper.type='SkipNonFiniteOptimWrapper'``, checked here).

    * writes checkpoints atomically (temporary file in the same folder,
      fsync, rename) and builds every ``CheckpointHook`` of a config as
      :class:`AtomicCheckpointHook` (``last_checkpoint`` written
      atomically, outdated checkpoints deleted only after the new one
      exists): a ``kill -9`` during a save leaves the previous checkpoint
      loadable;
    * logs evaluation progress with ETA (registers
      :class:`EvalProgressHook` unless the config has one);
    * resumes an epoch-based run in the middle of an epoch (a checkpoint
      saved every N iterations) with the batch after the checkpoint
      instead of the epoch's first one
      (:func:`~albef_mm.engine.runner.resume_position.skip_consumed_batches`).

    Extra config keys: ``load_strict`` (bool), ``trust_checkpoint`` (bool,
    default False; ``--trust-checkpoint`` in tools/train.py and test.py),
    ``nonfinite_loss`` (str).
    """

    def __init__(self, *args, load_strict: bool = True,
                 trust_checkpoint: bool = False, **kwargs):
        self.load_strict = load_strict
        self.trust_checkpoint = trust_checkpoint
        super().__init__(*args, **kwargs)
        if self._train_loop is not None:
            self._check_training_setup()

    @classmethod
    def from_cfg(cls, cfg) -> 'ALBEFRunner':
        cfg = cfg.copy()
        load_strict = cfg.pop('load_strict', True)
        trust = cfg.pop('trust_checkpoint', False)
        nonfinite = cfg.pop('nonfinite_loss', 'raise')
        if nonfinite not in ('raise', 'skip'):
            raise ValueError(f"nonfinite_loss must be 'raise' or 'skip', got "
                             f'{nonfinite!r}')
        wrapper = (cfg.get('optim_wrapper') or {}).get('type')
        if nonfinite == 'skip' and cfg.get('train_cfg') and \
                wrapper != 'SkipNonFiniteOptimWrapper':
            raise ValueError(
                "nonfinite_loss='skip' needs optim_wrapper.type="
                f"'SkipNonFiniteOptimWrapper' (got {wrapper!r}): only it "
                'skips the update of a non-finite loss.')
        check_config_types(cfg)
        check_vis_backends(cfg)
        runner = super().from_cfg(cfg)
        runner.unwrapped_model.nonfinite_loss = nonfinite
        # from_cfg builds through cls(...) without our keys; set them after
        # (checkpoints are read later, in train() / test()).
        runner.load_strict = load_strict
        runner.trust_checkpoint = bool(trust)
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

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        super().register_hooks(default_hooks, custom_hooks)
        # progress with ETA in every batch-wise evaluation loop
        if not any(isinstance(h, EvalProgressHook) for h in self._hooks):
            self.register_hook(EvalProgressHook())

    def register_hook(self, hook, priority=None) -> None:
        if isinstance(hook, dict) and hook.get('type') in (
                'CheckpointHook', CheckpointHook):
            hook = dict(hook, type=AtomicCheckpointHook)
        super().register_hook(hook, priority)

    def save_checkpoint(self, out_dir, filename, file_client_args=None,
                        save_optimizer=True, save_param_scheduler=True,
                        meta=None, by_epoch=True, backend_args=None):
        """``Runner.save_checkpoint`` (same arguments) that writes a local
        file atomically: to a temporary file next to it, flushed to disk,
        then renamed over ``out_dir/filename``. Remote back-ends (``s3://``
        ...) are written as MMEngine does."""
        path = osp.join(str(out_dir), filename)
        if '://' in path or backend_args or file_client_args:
            return super().save_checkpoint(
                out_dir, filename, file_client_args, save_optimizer,
                save_param_scheduler, meta, by_epoch, backend_args)
        tmp = temporary_name(path)
        try:
            super().save_checkpoint(
                osp.dirname(tmp), osp.basename(tmp), None, save_optimizer,
                save_param_scheduler, meta, by_epoch, None)
            if osp.exists(tmp):  # only the main process writes
                commit(tmp, path)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise

    @master_only
    def dump_config(self) -> None:
        """``Runner.dump_config`` (the config as run, into the work dir),
        written atomically, never through a symbolic link (refused) and
        never over the config file being run (skipped: ``--work-dir`` = the
        config's folder would replace it with its flattened text)."""
        name = osp.basename(self.cfg.filename) if self.cfg.filename \
            else f'{self.timestamp}.py'
        path = osp.join(self.work_dir, name)
        if osp.islink(path):
            raise FileExistsError(
                f'{path} is a symbolic link; refusing to write the config '
                f'dump through it (it would replace {osp.realpath(path)})')
        if self.cfg.filename and osp.exists(path) and \
                osp.samefile(path, self.cfg.filename):
            # e.g. a run started from the dump of an earlier one
            self.logger.info(f'config dump skipped: {path} is the config '
                             'being run (left as it is)')
            return
        if not name.endswith('.py'):  # json / yaml: MMEngine's writer
            return super().dump_config()
        with atomic_path(path) as tmp:
            with open(tmp, 'w', encoding='utf-8') as f:
                f.write(self.cfg.pretty_text)

    def build_evaluator(self, evaluator):
        """``Runner.build_evaluator``; metrics that write files
        (``set_work_dir``, e.g. ``VQAResultWriter``) are told the work dir,
        so a relative output path follows ``--work-dir``."""
        evaluator = super().build_evaluator(evaluator)
        for metric in evaluator.metrics:
            if hasattr(metric, 'set_work_dir'):
                metric.set_work_dir(self.work_dir)
        return evaluator

    def resume(self, filename, resume_optimizer=True,
               resume_param_scheduler=True, map_location='default') -> None:
        super().resume(filename, resume_optimizer, resume_param_scheduler,
                       map_location)
        skip_consumed_batches(self)

    def load_checkpoint(self, filename, map_location='cpu', strict=False,
                        revise_keys=[(r'^module.', '')]):
        checkpoint = read_checkpoint(
            filename, map_location,
            trust=getattr(self, 'trust_checkpoint', False))
        extract_state_dict(checkpoint, str(filename))  # a checkpoint at all?
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        load_checkpoint_to_model(self.unwrapped_model, checkpoint,
                                 strict=self.load_strict or strict,
                                 logger=self.logger.instance_name,
                                 source=str(filename))
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
