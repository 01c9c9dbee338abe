"""Retrieval re-ranking: the optimised path against the original's
per-pair loop, same model, same inputs, same machine.

Usage:
    python tools/analysis/benchmark_rerank.py CONFIG [--images 100]
        [--captions 5] [--k 16] [--device cpu|cuda] [--threads N]

Builds the config's model with random weights, makes random image tokens
and texts of realistic lengths (8-20 real tokens padded to 30), takes the
ITC top-k of random similarities and re-ranks them twice. Reports wall time,
FLOPs counted with ``torch.utils.flop_counter`` and the largest score
difference between the two paths.
"""
import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from albef_mm.apis import init_model
from parity.reference import rerank_itm_plain


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--images', type=int, default=100)
    parser.add_argument('--captions', type=int, default=5)
    parser.add_argument('--k', type=int, default=16)
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None)
    return parser.parse_args(argv)


def timed(fn, device):
    counter = FlopCounterMode(display=False)
    with counter:
        fn()  # FLOPs of one run (also a warm-up)
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return out, time.perf_counter() - start, counter.get_total_flops()


@torch.no_grad()
def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = init_model(args.config, device=args.device)
    g = torch.Generator().manual_seed(0)
    n_img, n_txt = args.images, args.images * args.captions
    vit = model.vision_backbone
    tokens = vit.num_patches + 1
    image_embeds = torch.randn(n_img, tokens, vit.embed_dims,
                               generator=g).to(args.device)
    hidden = model.text_backbone.hidden_size
    text_embeds = torch.randn(n_txt, 30, hidden, generator=g).to(args.device)
    lengths = torch.randint(8, 21, (n_txt, ), generator=g)
    text_mask = (torch.arange(30)[None] < lengths[:, None]).long().to(
        args.device)
    sims = torch.randn(n_img, n_txt, generator=g).to(args.device)
    ids = torch.arange(n_img)

    plain, t_plain, f_plain = timed(
        lambda: rerank_itm_plain(model.neck, model.itm_head, image_embeds,
                                 text_embeds, text_mask, sims, args.k),
        args.device)
    stats = {}

    def fast_fn():
        i2t, t2i = model.score_shortlist(image_embeds, ids, text_embeds,
                                         text_mask, sims, args.k,
                                         stats=stats)
        return (torch.where(torch.isinf(i2t), -100., i2t).cpu(),
                torch.where(torch.isinf(t2i), -100., t2i).cpu())

    fast, t_fast, f_fast = timed(fast_fn, args.device)
    diff = max((fast[0] - plain[0]).abs().max().item(),
               (fast[1] - plain[1]).abs().max().item())
    pairs = n_img * min(args.k, n_txt) + n_txt * min(args.k, n_img)
    print(f'{args.config}: {n_img} images x {n_txt} texts, k={args.k}, '
          f'{tokens} image tokens, device {args.device}, '
          f'{torch.get_num_threads()} threads')
    print(f'plain per-pair loop : {t_plain:8.2f} s  {f_plain / 1e9:10.1f} '
          f'GFLOP  ({pairs} fused pairs, padded to 30 tokens)')
    print(f'optimised           : {t_fast:8.2f} s  {f_fast / 1e9:10.1f} '
          f'GFLOP  ({stats["pairs"]} unique pairs, '
          f'{stats["text_tokens"] / max(stats["pairs"], 1):.1f} tokens/pair)')
    print(f'speed-up {t_plain / t_fast:.1f}x, FLOPs / {f_plain / f_fast:.1f};'
          f' max |score difference| {diff:.2e}')


if __name__ == '__main__':
    main()
