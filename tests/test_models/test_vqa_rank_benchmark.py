"""tools/analysis/benchmark_vqa_rank.py on the tiny decoder: both ranking
paths agree and the cached path does a fraction of the FLOPs."""
import os.path as osp
import sys

from helpers.tiny import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis'))
import benchmark_vqa_rank  # noqa: E402


def test_benchmark_tiny_run(tmp_path):
    out = tmp_path / 'bench.json'
    res = benchmark_vqa_rank.main(['--tiny', '--batch', '3', '--k', '16',
                                   '--answers', '120', '--repeats', '1',
                                   '--out', str(out)])
    assert res['same_answers'] and res['max_prob_diff'] < 1e-5
    assert res['k'] == 16 and out.exists()
    # no repeated cross-attention projections, no padded positions, one
    # shared [CLS] step: several times fewer FLOPs
    assert res['flop_ratio'] > 3
