"""Train an albef_mm model from a config.

Usage:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]]
        [--amp] [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
        [--trust-checkpoint] [--default-malloc]

CONFIG may be a registered model name (its config, e.g. ``albef_vqa``);
``load_from`` and ``--resume`` take a file, an ``http(s)://`` URL or a
model name (its released weights, downloaded once into the cache).
Checkpoints (``load_from``, ``--resume``) are read with
``torch.load(weights_only=True)``; ``--trust-checkpoint`` allows full
unpickling for files that need it (it can run code stored in the file).

On a machine without CUDA, freed tensor memory is kept in the process for
reuse (glibc malloc without mmap; no page faults on re-used activations,
same peak memory); ``--default-malloc`` leaves the allocator as it is.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import albef_mm  # noqa: F401
from albef_mm.engine.optimizers import use_mixed_precision
# re-exported: the test-after-train step of main()
from albef_mm.engine.runner.test_after_train import (  # noqa: F401
    best_checkpoint, run_test_after_train)
from albef_mm.registry import RUNNERS
from albef_mm.utils import keep_freed_cpu_memory

KNOWN_TOP_LEVEL = (
    'model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'val_evaluator', 'test_evaluator',
    'optim_wrapper', 'param_scheduler', 'default_hooks', 'custom_hooks',
    'env_cfg', 'default_scope', 'runner_type', 'log_processor', 'log_level',
    'load_from', 'resume', 'randomness', 'visualizer', 'work_dir',
    'launcher', 'auto_scale_lr', 'model_wrapper_cfg', 'load_strict',
    'test_after_train', 'trust_checkpoint', 'nonfinite_loss', 'strategy')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train an ALBEF model')
    parser.add_argument('config', help='config file, or a registered model '
                        'name (its config; see albef_mm.apis.list_models)')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help="resume from PATH, or the latest checkpoint of "
                        "the work dir if given without a value ('auto')")
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: bf16 (fp16 on GPUs without '
                        'bf16) via AmpOptimWrapper on a GPU, bf16 autocast '
                        '(BF16AutocastOptimWrapper) on a CPU')
    parser.add_argument('--tensorboard', action='store_true',
                        help='also log scalars for TensorBoard (adds '
                        'TensorboardVisBackend to visualizer.vis_backends; '
                        'needs the tensorboard package)')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. '
                        'train_dataloader.batch_size=32')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='read checkpoints with full unpickling (needed '
                        'for files holding objects outside the safe '
                        'allow-list; such a file can run code while it is '
                        'loaded: use only for files you trust)')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    add_malloc_arg(parser)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def add_malloc_arg(parser) -> None:
    parser.add_argument('--default-malloc', action='store_true',
                        help='on a machine without CUDA, leave glibc malloc '
                        'as it is (by default freed tensor memory is kept '
                        'for reuse: no page faults on re-used activations)')


def tune_cpu_allocator(args) -> bool:
    """On a machine without CUDA keep freed tensor memory for reuse
    (:func:`~albef_mm.utils.keep_freed_cpu_memory`) unless
    ``--default-malloc``; returns whether it was applied."""
    if getattr(args, 'default_malloc', False) or torch.cuda.is_available():
        return False
    return keep_freed_cpu_memory()


def warn_unknown_keys(cfg: Config) -> None:
    """Flag top-level keys that look like typos of runner keys
    (``train_cgf``): MMEngine would silently ignore them."""
    import difflib
    for key in cfg.keys():
        if key in KNOWN_TOP_LEVEL:
            continue
        close = difflib.get_close_matches(key, KNOWN_TOP_LEVEL, n=1,
                                          cutoff=0.8)
        if close:
            print(f'WARNING: config key {key!r} is not used by the runner; '
                  f'did you mean {close[0]!r}?')


def load_config(config: str) -> Config:
    """The config of a file path or of a registered model name (as
    ``mim`` resolves names: ``albef_vqa`` is ``configs/albef/vqa.py`` of
    the clone or the installed package); a path wins over a name."""
    if not osp.isfile(config):
        from albef_mm.utils.model_index import model_info, registered
        if config in registered():
            path = model_info(config)['config']
            print(f'{config}: config {path}', flush=True)
            return Config.fromfile(path)
    return Config.fromfile(config)


def apply_common_args(cfg: Config, args) -> Config:
    """``--launcher``, ``--cfg-options`` and ``--work-dir`` (default
    ``work_dirs/<config name>``), shared with tools/test.py."""
    cfg.launcher = args.launcher
    if getattr(args, 'trust_checkpoint', False):
        cfg.trust_checkpoint = True
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        # the config file's name, also when a model name chose it
        config = getattr(cfg, 'filename', None) or args.config
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


def merge_args(cfg: Config, args) -> Config:
    apply_common_args(cfg, args)
    if args.amp:
        use_mixed_precision(
            cfg.optim_wrapper, 'cuda' if torch.cuda.is_available() else 'cpu')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        cfg.test_after_train = False
    if getattr(args, 'tensorboard', False):
        from albef_mm.engine.vis_backends import enable_tensorboard
        enable_tensorboard(cfg)
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """MMEngine's pytorch launcher always calls ``torch.cuda.set_device``;
    on a machine without GPUs initialise gloo ourselves (the runner then
    skips its own init) and use the CPU-capable DDP wrapper."""
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    # scope prefix: the runner looks wrappers up in MMEngine's root registry
    cfg.model_wrapper_cfg = dict(type='albef_mm.CPUFriendlyDDP',
                                 broadcast_buffers=False)
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'


def build_runner(cfg: Config):
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def main(argv=None):
    args = parse_args(argv)
    tune_cpu_allocator(args)
    cfg = merge_args(load_config(args.config), args)
    warn_unknown_keys(cfg)
    setup_cpu_distributed(cfg)
    runner = build_runner(cfg)
    runner.train()
    if cfg.get('test_after_train') and cfg.get('test_dataloader'):
        run_test_after_train(runner)
    return runner


if __name__ == '__main__':
    main()
