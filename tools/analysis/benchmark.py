"""Training-step throughput and peak memory of a config's model.

Usage:
    python tools/analysis/benchmark.py CONFIG [--batch-size 8] [--iters 10]
        [--warmup 3] [--text-length 25] [--amp] [--device cpu|cuda]
        [--threads N]

Each step is a full training iteration as the runner does it: momentum EMA,
forward of every loss, backward, AdamW update, queue update. Inputs are
synthetic (random normalised images at the model's resolution, random token
ids of ``--text-length``) so the figure is the model's, not the data
loader's; pretrained weights are not loaded. Prints samples/s over
``--iters`` iterations after ``--warmup`` and the peak memory (CUDA:
allocated; CPU: peak resident set size of the process).
"""
import argparse
import resource
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from albef_mm.apis import init_model
from albef_mm.engine import run_train_iteration


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--text-length', type=int, default=25)
    parser.add_argument('--amp', action='store_true',
                        help='bf16 autocast (AmpOptimWrapper)')
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None)
    return parser.parse_args(argv)


def synthetic_batch(model, batch: int, length: int, device):
    res = model.vision_backbone.img_size
    vocab = model.text_backbone.vocab_size
    images = torch.randn(batch, 3, res, res, device=device)
    ids = torch.randint(1000 if vocab > 2000 else 104, vocab,
                        (batch, length), device=device)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    return images, ids, mask


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    queue = cfg.model.get('itc_head', {}).get('queue_size')
    if queue and queue % args.batch_size:
        cfg.model.itc_head.queue_size = queue - queue % args.batch_size
    model = init_model(cfg, device=args.device).train()
    optim_cfg = cfg.optim_wrapper.copy()
    if args.amp:
        if not args.device.startswith('cuda'):
            raise SystemExit('--amp needs a GPU (AmpOptimWrapper)')
        optim_cfg.update(type='AmpOptimWrapper', dtype='bfloat16')
    optim = build_optim_wrapper(model, optim_cfg)
    images, ids, mask = synthetic_batch(model, args.batch_size,
                                        args.text_length, args.device)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f'{args.config}: {params / 1e6:.1f} M trainable parameters, '
          f'batch {args.batch_size}, {images.shape[-1]} px, text '
          f'{args.text_length} tokens, device {args.device}'
          f'{", bf16 autocast" if args.amp else ""}, '
          f'{torch.get_num_threads()} threads')
    cuda = args.device.startswith('cuda')

    def forward_backward():
        with optim.optim_context(model):
            losses = model.loss(images, ids, mask)
        optim.update_params(sum(losses.values()))

    def step():
        run_train_iteration(model, forward_backward)

    for _ in range(args.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**30
        where = 'GPU memory allocated'
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        where = 'process RSS'
    print(f'{args.iters} iterations: {elapsed / args.iters:.3f} s/iter, '
          f'{args.batch_size * args.iters / elapsed:.1f} samples/s, '
          f'peak {where} {peak:.2f} GiB')


if __name__ == '__main__':
    main()
