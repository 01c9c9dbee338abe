"""Evaluate a checkpoint with a task config.

Usage:
    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
        [--trust-checkpoint] [--default-malloc]

CONFIG may be a config file or a registered model name (its config);
CHECKPOINT a file, an ``http(s)://`` URL or a registered model name (its
released weights, downloaded once into the cache with a progress bar and
checked by SHA-256), e.g. ``python tools/test.py albef_vqa albef_vqa``.
It may be an albef_mm checkpoint or an original ALBEF file (a
pre-training ``{'model': ...}`` checkpoint or a released fine-tuned state
dict without momentum weights); keys are converted and reported. On a
machine without CUDA freed tensor memory is kept for reuse, as in
tools/train.py (``--default-malloc`` to leave the allocator as it is).
"""
import argparse

from mmengine.config import DictAction

from train import (add_malloc_arg, apply_common_args,  # noqa: E402
                   build_runner, load_config, setup_cpu_distributed,
                   tune_cpu_allocator)

import albef_mm  # noqa: F401,E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate an ALBEF model')
    parser.add_argument('config', help='config file, or a registered model '
                        'name (its config)')
    parser.add_argument('checkpoint', help='checkpoint file, http(s) URL or '
                        'registered model name (its released weights, '
                        'downloaded once into the cache)')
    parser.add_argument('--work-dir', help='where logs go')
    parser.add_argument('--out', help='dump the raw predictions (e.g. the '
                        'retrieval score matrices) to this pickle file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='read checkpoints with full unpickling (needed '
                        'for files holding objects outside the safe '
                        'allow-list; such a file can run code while it is '
                        'loaded: use only for files you trust)')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    add_malloc_arg(parser)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    tune_cpu_allocator(args)
    cfg = apply_common_args(load_config(args.config), args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.out is not None:
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, list):
            evaluators = [evaluators]
        cfg.test_evaluator = evaluators + [
            dict(type='DumpResults', out_file_path=args.out)]
    setup_cpu_distributed(cfg)
    runner = build_runner(cfg)
    return runner.test()


if __name__ == '__main__':
    main()
