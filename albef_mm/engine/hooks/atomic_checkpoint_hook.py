"""``CheckpointHook`` whose files survive a kill in the middle of a save."""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from albef_mm.registry import HOOKS
from albef_mm.utils.atomic_io import (atomic_write_text,
                                      remove_stale_temporaries)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` (same config keys: ``interval``,
    ``by_epoch``, ``max_keep_ckpts``, ``save_best``, ``rule``, ...) made
    crash-safe. ``ALBEFRunner`` builds it for every
    ``dict(type='CheckpointHook', ...)`` of a config.

    A ``kill -9`` at any moment of a save leaves the previous checkpoint
    loadable and ``last_checkpoint`` naming a complete file:

    * the checkpoint file itself is written atomically by
      ``ALBEFRunner.save_checkpoint`` (temporary file, fsync, rename);
    * ``last_checkpoint`` is rewritten atomically, after the checkpoint it
      names is complete;
    * with ``max_keep_ckpts`` the outdated checkpoints are deleted *after*
      the new one and ``last_checkpoint`` are written (MMEngine deletes
      first, so with ``max_keep_ckpts=1`` a kill during the save left no
      checkpoint at all);
    * with ``save_best`` the previous best file is deleted after the new
      best is written (MMEngine: before).

    Temporary files of saves killed in an earlier run are deleted before
    training starts. A validation without training (``runner.val()``)
    saves no best checkpoint (MMEngine's hook fails there).
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and self.out_dir and \
                '://' not in str(self.out_dir) and osp.isdir(self.out_dir):
            for path in remove_stale_temporaries(self.out_dir) + \
                    remove_stale_temporaries(runner.work_dir):
                runner.logger.info(f'Removed {path}, the temporary file of '
                                   'a save that was interrupted')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            # the list the saved checkpoint records already excludes the
            # outdated ones; their files go only once the new one exists
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'),
                          self.last_ckpt)
        for old in outdated:
            self._remove(self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old)))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self.save_best or not hasattr(self, 'file_backend'):
            # no training run (runner.val() alone): nothing to keep;
            # MMEngine's hook fails here (file_backend is set in
            # before_train)
            return
        # hide the previous best files from MMEngine's implementation (which
        # deletes them before saving); delete the replaced ones afterwards
        single = self.best_ckpt_path if hasattr(self,
                                                'best_ckpt_path') else None
        many = dict(getattr(self, 'best_ckpt_path_dict', {}) or {})
        self.best_ckpt_path = None
        if many:
            self.best_ckpt_path_dict = {k: None for k in many}
        super()._save_best_checkpoint(runner, metrics)
        replaced = []
        if self.best_ckpt_path is None:
            self.best_ckpt_path = single
        elif single and single != self.best_ckpt_path:
            replaced.append(single)
        for key, old in many.items():
            new = self.best_ckpt_path_dict.get(key)
            if new is None:
                self.best_ckpt_path_dict[key] = old
            elif old and old != new:
                replaced.append(old)
        if is_main_process():
            for path in replaced:
                if self._remove(path):
                    runner.logger.info(f'The previous best checkpoint {path} '
                                       'is removed')

    def _remove(self, path: str) -> bool:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            # checkpoints saved by DeepSpeed are directories
            self.file_backend.rmtree(path)
        else:
            return False
        return True
