"""``torch.compile`` against eager, block by block: a full-size ViT block and
a fusion (cross-attention) BERT layer, forward + backward, on the shapes of
one pre-training step.

Usage:
    python tools/analysis/benchmark_compile_blocks.py [--batch-size 8]
        [--text-length 30] [--image-tokens 257] [--iters 3]
        [--device cpu|cuda] [--threads N] [--json OUT]

Compiling the whole step takes many minutes on a small CPU; the blocks are
where inductor could fuse the element-wise work (LayerNorm, GELU, residual
adds, dropout) around the matrix products, so their ratio bounds what
compiling the step can give. Prints compile time, eager and compiled
seconds per forward + backward and the ratio, per block.
"""
import argparse
import json
import time

import torch

from albef_mm.models.backbones.vit import ViTBlock
from albef_mm.models.layers import BertLayer


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--text-length', type=int, default=30)
    parser.add_argument('--image-tokens', type=int, default=257)
    parser.add_argument('--width', type=int, default=768)
    parser.add_argument('--heads', type=int, default=None,
                        help='attention heads (default: width / 64)')
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--json', default=None)
    return parser.parse_args(argv)


def time_fwd_bwd(fn, inputs, iters: int, device: str) -> float:
    """Mean seconds of ``fn(*inputs).sum().backward()`` after one warm-up
    call."""
    def once():
        fn(*inputs).sum().backward()
        if device.startswith('cuda'):
            torch.cuda.synchronize()

    once()
    start = time.perf_counter()
    for _ in range(iters):
        once()
    return (time.perf_counter() - start) / max(iters, 1)


def blocks(args):
    """(name, module, inputs) of the two blocks at pre-training shapes: the
    ViT block on B images, the fusion layer on the 3B ITM rows."""
    d, dev = args.width, args.device
    heads = args.heads or d // 64
    torch.manual_seed(0)
    vit = ViTBlock(d, heads, 4.0, True, 1e-6, 0.0, 0.0, 0.0).to(dev).train()
    image = torch.randn(args.batch_size, args.image_tokens, d, device=dev,
                        requires_grad=True)
    fusion = BertLayer(hidden_size=d, num_heads=heads,
                       intermediate_size=4 * d, cross_attention=True,
                       encoder_width=d).to(dev).train()
    rows = 3 * args.batch_size
    text = torch.randn(rows, args.text_length, d, device=dev,
                       requires_grad=True)
    states = torch.randn(rows, args.image_tokens, d, device=dev,
                         requires_grad=True)
    return [('vit_block', vit, (image, )),
            ('fusion_layer', fusion, (text, None, states, None))]


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = dict(device=args.device, threads=torch.get_num_threads(),
                  batch_size=args.batch_size, blocks={})
    for name, module, inputs in blocks(args):
        eager = time_fwd_bwd(module, inputs, args.iters, args.device)
        compiled = torch.compile(module)
        start = time.perf_counter()
        time_fwd_bwd(compiled, inputs, 0, args.device)  # compiles
        compile_s = time.perf_counter() - start  # (+ one warm-up call)
        fast = time_fwd_bwd(compiled, inputs, args.iters, args.device)
        row = dict(eager_s=eager, compiled_s=fast, speedup=eager / fast,
                   compile_s=compile_s)
        result['blocks'][name] = row
        print(f'{name:<13} eager {eager:.3f} s, compiled {fast:.3f} s '
              f'(x{row["speedup"]:.2f}), compile {compile_s:.0f} s',
              flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
