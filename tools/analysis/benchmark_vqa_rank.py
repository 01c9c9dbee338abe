"""Throughput and FLOPs of VQA answer-list ranking: the cached path
(per-question cross-attention keys/values, shared ``[CLS]`` step, no padded
positions) against the original's repeat path (question states repeated
``k`` times, every candidate decoded at the answer list's padded length).

Only the ranking is timed (the image + question encoder runs once per
question in both paths and is the same work): a full-size decoder (6
layers, width 768, vocabulary 30522, from ``configs/_base_/models/
albef_vqa.py``) with random weights, random question states of a
``--question-len``-token batch (varied lengths) and a synthetic answer list
whose token lengths follow ``--length-mix`` (the VQA v2 list is mostly
one-word answers). Both paths must return the same answers; the largest
score difference is printed.

    python tools/analysis/benchmark_vqa_rank.py --batch 8 --k 128
"""
import argparse
import json
import os.path as osp
import sys
import time

import torch

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
for path in (REPO, osp.dirname(osp.abspath(__file__))):
    if path not in sys.path:
        sys.path.insert(0, path)

from albef_mm.models.heads.vqa_ranking import rank_answers  # noqa: E402
from albef_mm.registry import MODELS  # noqa: E402
from parity.reference import rank_answers_repeat  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=8, help='questions')
    p.add_argument('--k', type=int, default=128)
    p.add_argument('--answers', type=int, default=3128,
                   help='size of the answer list')
    p.add_argument('--question-len', type=int, default=12)
    p.add_argument('--length-mix', default='0.70,0.20,0.06,0.02,0.01,0.01',
                   help='fractions of answers with 1, 2, ... word-pieces')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=0,
                   help='torch threads (0: leave as is)')
    p.add_argument('--tiny', action='store_true',
                   help='tiny decoder (width 64, vocab 512): a smoke run')
    p.add_argument('--out', default=None, help='write the results as json')
    return p.parse_args(argv)


def build_decoder(tiny: bool):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models',
                                   'albef_vqa.py')).model.decoder_head
    cfg = cfg.to_dict()
    if tiny:
        cfg.update(vocab_size=512, hidden_size=64, num_heads=2,
                   intermediate_size=128, max_position_embeddings=64)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def make_inputs(dec, args):
    g = torch.Generator().manual_seed(1)
    width = dec.embeddings.word_embeddings.embedding_dim
    vocab = dec.vocab_size
    states = torch.randn(args.batch, args.question_len, width, generator=g)
    q_mask = torch.ones(args.batch, args.question_len, dtype=torch.long)
    for b in range(args.batch):  # padded questions ('longest' padding)
        q_mask[b, args.question_len - b % 5:] = 0
    mix = torch.tensor([float(x) for x in args.length_mix.split(',')])
    lengths = torch.multinomial(mix, args.answers, replacement=True,
                                generator=g) + 1
    longest = int(lengths.max()) + 2
    ids = torch.zeros(args.answers, longest, dtype=torch.long)
    mask = torch.zeros_like(ids)
    low = 1000 if vocab > 2000 else 104  # word-pieces, no special ids
    for a, n in enumerate(lengths.tolist()):
        ids[a, 0] = 101
        ids[a, 1:n + 1] = torch.randint(low, vocab, (n, ), generator=g)
        ids[a, n + 1] = 102
        mask[a, :n + 2] = 1
    return states, q_mask, ids, mask


def flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dec = build_decoder(args.tiny)
    states, q_mask, ids, mask = make_inputs(dec, args)
    k = min(args.k, args.answers)

    def run(fn):
        return lambda: fn(dec, states, q_mask, ids, mask, k)

    with torch.no_grad():
        c_ids, c_probs = run(rank_answers)()
        r_ids, r_probs = run(rank_answers_repeat)()
        t_cached = timed(run(rank_answers), args.repeats)
        t_repeat = timed(run(rank_answers_repeat), args.repeats)
        f_cached = flops(run(rank_answers))
        f_repeat = flops(run(rank_answers_repeat))
    res = dict(
        batch=args.batch, k=k, answers=args.answers,
        answer_len_padded=ids.size(1),
        mean_answer_len=float(mask.sum(1).float().mean()),
        threads=torch.get_num_threads(), tiny=args.tiny,
        repeat_s=t_repeat, cached_s=t_cached,
        repeat_q_per_s=args.batch / t_repeat,
        cached_q_per_s=args.batch / t_cached, speedup=t_repeat / t_cached,
        repeat_gflop=f_repeat / 1e9, cached_gflop=f_cached / 1e9,
        flop_ratio=f_repeat / f_cached,
        same_answers=bool(torch.equal(c_ids, r_ids)),
        max_prob_diff=float((c_probs - r_probs).abs().max()))
    print(f"ranking {args.batch} questions, k={k}, answer list "
          f"{args.answers} (padded length {res['answer_len_padded']}, mean "
          f"{res['mean_answer_len']:.2f}), {res['threads']} threads")
    print(f"  repeat (original): {t_repeat:8.3f} s  "
          f"{res['repeat_q_per_s']:8.2f} q/s  {res['repeat_gflop']:9.1f} "
          'GFLOP')
    print(f"  cached           : {t_cached:8.3f} s  "
          f"{res['cached_q_per_s']:8.2f} q/s  {res['cached_gflop']:9.1f} "
          'GFLOP')
    print(f"  speed-up {res['speedup']:.2f}x, FLOP ratio "
          f"{res['flop_ratio']:.2f}x, same answers: {res['same_answers']}, "
          f"max |prob diff| {res['max_prob_diff']:.2e}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == '__main__':
    main()
