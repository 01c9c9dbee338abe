"""Training-step benchmark of a config's model: throughput, step-time
percentiles, peak memory, FLOPs, and the speed-up over the reference path.

Usage:
    python tools/analysis/benchmark.py CONFIG [--batch-size 8] [--iters 10]
        [--warmup 3] [--text-length 25] [--reference] [--compile] [--amp]
        [--device cpu|cuda] [--threads N] [--default-malloc]
        [--json OUT.json]

Each step is a full training iteration as the runner does it
(``run_train_iteration``: momentum EMA, forward of every loss, backward,
AdamW update, queue update) on synthetic inputs (random normalised images
at the model's resolution, random token ids of ``--text-length``), so the
figure is the model's, not the data loader's; pretrained weights are not
loaded.

The ``optimized`` path is the config as it builds, with its three
step optimizations: fusion cross-attention keys / values of each image
projected once (``reuse_image_kv``; without it every fused row projects
its own image tokens, ``parity.reference.without_kv_reuse``), MLM
vocabulary logits of the masked positions only
(``mlm_head.logits_at_labels_only``, on by default on a CPU) and the fused
AdamW kernel. ``--reference`` also builds the reference
path: the same model and weights without any of them (the original's order
of operations, logits at every position, torch's default AdamW kernel as
the original). It checks that one step gives equal losses and gradients,
times the paths interleaved in this process and ends with
``speedup: <ratio>``. ``--decompose`` adds the intermediate steps of the
ladder (reference, + K/V reuse, + masked-only logits, optimized = + fused
AdamW), each with its speed-up over the reference. Every path holds its
own model and optimizer (full size: about 4.2 GiB of weights, momentum
copies, gradients and AdamW state, plus 7 GiB of activations per step on
CPU), so the four paths of ``--decompose`` need about 25 GiB. Peak memory
is measured per path in a child process (CPU: peak resident set size;
CUDA: peak allocated). ``--compile`` times ``torch.compile`` of the model
as one more path. FLOPs per step come from ``torch.utils.flop_counter``.
On a CPU, freed tensor memory is kept for reuse as in tools/train.py (no
page faults on re-used activations, for every path alike; each path
reports its page faults per step); ``--default-malloc`` measures with
glibc's default allocator instead.
"""
import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch.utils.flop_counter import FlopCounterMode

from albef_mm.apis import init_model
from albef_mm.engine import run_train_iteration
from albef_mm.engine.optimizers import use_mixed_precision
from albef_mm.utils import keep_freed_cpu_memory
from parity.reference import without_kv_reuse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--text-length', type=int, default=25)
    parser.add_argument('--reference', action='store_true',
                        help='also time the reference path and print the '
                        'speed-up')
    parser.add_argument('--decompose', action='store_true',
                        help='with --reference: also time the paths that '
                        'add one optimization at a time')
    parser.add_argument('--compile', action='store_true',
                        help='also time torch.compile of the model')
    parser.add_argument('--amp', action='store_true',
                        help='bf16 autocast (AmpOptimWrapper on a GPU, '
                        'BF16AutocastOptimWrapper on a CPU)')
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--default-malloc', action='store_true',
                        help='CPU: keep glibc malloc as it is (default: '
                        'freed tensor memory kept for reuse)')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument('--memory-of', default=None,
                        choices=('optimized', 'reference'),
                        help=argparse.SUPPRESS)  # child-process mode
    return parser.parse_args(argv)


def synthetic_batch(model, batch: int, length: int, device):
    res = model.vision_backbone.img_size
    vocab = model.text_backbone.vocab_size
    g = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, res, res, generator=g).to(device)
    ids = torch.randint(1000 if vocab > 2000 else 104, vocab,
                        (batch, length), generator=g).to(device)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    return images, ids, mask


# The step optimizations, in the order --decompose adds them.
OPTIMIZATIONS = ('reuse_image_kv', 'mlm_logits_at_labels_only', 'fused_adamw')
# --decompose: path name -> the optimizations it has.
LADDER = {'reference': (), '+reuse_image_kv': OPTIMIZATIONS[:1],
          '+mlm_logits_at_labels_only': OPTIMIZATIONS[:2],
          'optimized': OPTIMIZATIONS}


def build(cfg, args, optimizations=OPTIMIZATIONS):
    """The model and its optimizer wrapper with only ``optimizations``
    (a subset of :data:`OPTIMIZATIONS`) switched on; the others take the
    original's way (no K/V reuse, logits at every position, torch's default
    AdamW kernel)."""
    unknown = set(optimizations) - set(OPTIMIZATIONS)
    if unknown:
        raise ValueError(f'unknown optimizations {sorted(unknown)}; '
                         f'choose from {OPTIMIZATIONS}')
    cfg = copy.deepcopy(cfg)  # a shallow copy would share model dicts
    if 'mlm_head' in cfg.model and \
            'mlm_logits_at_labels_only' not in optimizations:
        cfg.model.mlm_head.logits_at_labels_only = False
    queue = cfg.model.get('itc_head', {}).get('queue_size')
    if queue and queue % args.batch_size:
        cfg.model.itc_head.queue_size = queue - queue % args.batch_size
    torch.manual_seed(0)
    model = init_model(cfg, device=args.device).train()
    if 'reuse_image_kv' not in optimizations:
        without_kv_reuse(model)
    optim_cfg = cfg.optim_wrapper.copy()
    if 'fused_adamw' not in optimizations:
        optim_cfg.optimizer = dict(optim_cfg.optimizer, fused=False)
    if args.amp:
        use_mixed_precision(optim_cfg, args.device)
    return model, build_optim_wrapper(model, optim_cfg)


def make_step(model, optim, batch, forward=None):
    forward = forward or model.loss

    def forward_backward():
        with optim.optim_context(model):
            losses = forward(*batch)
        optim.update_params(sum(losses.values()))
        return losses

    return lambda: run_train_iteration(model, forward_backward)


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def step_flops(model, batch) -> int:
    """FLOPs of one forward + backward (no optimizer step)."""
    with FlopCounterMode(display=False) as counter:
        losses = model.loss(*batch)
        sum(losses.values()).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def check_equal(a, b, batch) -> float:
    """Largest difference of losses and gradients after one identical
    step of two models with the same weights and random draws, relative to
    each tensor's largest magnitude."""
    worst = 0.0
    grads = []
    for model in (a, b):
        torch.manual_seed(0)  # dropout draws
        model.generator = torch.Generator().manual_seed(0)
        model.zero_grad(set_to_none=True)
        losses = model.loss(*batch)
        sum(losses.values()).backward()
        grads.append(([losses[k].detach() for k in sorted(losses)],
                      [p.grad for p in model.parameters()
                       if p.grad is not None]))
        model.generator = None
        model.zero_grad(set_to_none=True)
    for x, y in zip(grads[0][0] + grads[0][1], grads[1][0] + grads[1][1]):
        diff = (x - y).abs().max().item()
        scale = y.abs().max().item()
        worst = max(worst, diff / max(scale, 1e-6))
    return worst


def peak_memory_gib(device) -> float:
    """CUDA: peak allocated. CPU: this process's peak resident set size,
    from ``VmHWM`` where Linux has it: ``ru_maxrss`` of a process started
    by ``subprocess`` also counts the parent's peak (Linux records it at
    ``exec``), which made every child report the parent's models."""
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2**30
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def minor_page_faults() -> int:
    """Page faults of this process so far (first touches of fresh
    pages); CPU steps that re-use freed memory take almost none."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def child_peak(args, which: str) -> float:
    """Peak memory of ``--warmup + 2`` steps of one path, in a fresh
    process."""
    cmd = [sys.executable, os.path.abspath(__file__), args.config,
           '--batch-size', str(args.batch_size), '--text-length',
           str(args.text_length), '--warmup', str(max(args.warmup, 1)),
           '--device', args.device, '--memory-of', which]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    if args.amp:
        cmd.append('--amp')
    if args.default_malloc:
        cmd.append('--default-malloc')
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    malloc_kept = (args.device == 'cpu' and not args.default_malloc
                   and keep_freed_cpu_memory())
    cfg = Config.fromfile(args.config)
    if args.memory_of:
        model, optim = build(cfg, args, LADDER[args.memory_of])
        batch = synthetic_batch(model, args.batch_size, args.text_length,
                                args.device)
        step = make_step(model, optim, batch)
        for _ in range(args.warmup + 2):
            step()
        sync(args.device)
        print(peak_memory_gib(args.device))
        return None

    model, optim = build(cfg, args)
    batch = synthetic_batch(model, args.batch_size, args.text_length,
                            args.device)
    paths = {'optimized': make_step(model, optim, batch)}
    result = dict(config=args.config, batch_size=args.batch_size,
                  image_size=batch[0].shape[-1], device=args.device,
                  threads=torch.get_num_threads(), amp=args.amp,
                  malloc_kept=malloc_kept,
                  params_m=sum(p.numel() for p in model.parameters()
                               if p.requires_grad) / 1e6)
    path_flops = {}
    if args.reference:
        names = list(LADDER)[:-1] if args.decompose else ['reference']
        for name in names:
            other, other_optim = build(cfg, args, LADDER[name])
            other.load_state_dict(model.state_dict())
            paths[name] = make_step(other, other_optim, batch)
            path_flops[name] = step_flops(other, batch)
            if name == 'reference':
                result['max_rel_diff'] = check_equal(model, other, batch)
                result['flops_reference'] = path_flops[name]
    result['flops'] = path_flops['optimized'] = step_flops(model, batch)
    if args.compile:
        compiled = torch.compile(model.loss)
        paths['compiled'] = make_step(model, optim, batch, compiled)
    paths = {name: paths[name] for name in (*LADDER, 'compiled')
             if name in paths}  # report the ladder in order
    print(f"{args.config}: {result['params_m']:.1f} M trainable parameters,"
          f" batch {args.batch_size}, {result['image_size']} px, text "
          f'{args.text_length} tokens, device {args.device}'
          f'{", bf16 autocast" if args.amp else ""}'
          f'{", freed memory kept" if malloc_kept else ""}, '
          f"{result['threads']} threads", flush=True)
    for step in paths.values():
        for _ in range(args.warmup):
            step()
    times = {name: [] for name in paths}
    faults = {name: 0 for name in paths}
    for _ in range(args.iters):  # interleaved: both see the same machine
        for name, step in paths.items():
            sync(args.device)
            faults[name] -= minor_page_faults()
            start = time.perf_counter()
            step()
            sync(args.device)
            times[name].append(time.perf_counter() - start)
            faults[name] += minor_page_faults()
    for name, ts in times.items():
        ts = sorted(ts)
        mean = statistics.mean(ts)
        row = dict(s_per_iter=mean, samples_per_s=args.batch_size / mean,
                   p50=ts[len(ts) // 2], p90=ts[int(0.9 * (len(ts) - 1))],
                   max=ts[-1])
        if args.device == 'cpu':
            row['page_faults_per_step'] = faults[name] / args.iters
        flops = path_flops.get(name, result['flops'])  # compiled: model's
        row['gflop_per_step'] = flops / 1e9
        row['tflops_per_s'] = flops / mean / 1e12
        if name in ('optimized', 'reference'):
            row['peak_memory_gib'] = child_peak(args, name)
        if name in LADDER and name not in ('optimized', 'reference'):
            row['speedup_over_reference'] = (
                statistics.mean(times['reference']) / mean)
        result[name] = row
        print(f"{name:<27} {mean:8.3f} s/iter (p50 {row['p50']:.3f}, p90 "
              f"{row['p90']:.3f}), {row['samples_per_s']:7.2f} samples/s, "
              f"{flops / 1e9:9.1f} GFLOP/step, "
              f"{row['tflops_per_s'] * 1e3:7.1f} GFLOP/s"
              + (f", peak {row['peak_memory_gib']:.2f} GiB"
                 if 'peak_memory_gib' in row else '')
              + (f", {row['page_faults_per_step']:,.0f} page faults/step"
                 if 'page_faults_per_step' in row else ''), flush=True)
    if args.reference:
        result['speedup'] = (result['reference']['s_per_iter'] /
                             result['optimized']['s_per_iter'])
        print(f"losses/gradients max relative difference "
              f"{result['max_rel_diff']:.2e}")
        print(f"speedup: {result['speedup']:.3f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
