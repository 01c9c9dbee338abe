"""tools/analysis/gpu_check.sh in its CPU dry mode, and the GEMM-peak
helper it uses."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from helpers.tiny import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis', 'gpu_check.sh')


def test_gemm_peak_cpu_float32():
    from gemm_peak import measure
    result = measure('cpu', 'float32', size=64, iters=5, seconds=10)
    assert result['iters'] == 5 and result['size'] == 64
    assert result['tflops_per_s'] > 0
    expected = 2 * 64**3 * 5 / result['seconds'] / 1e12
    assert result['tflops_per_s'] == pytest.approx(expected)
    with pytest.raises(ValueError, match='dtype must be one of'):
        measure('cpu', 'int8')


def test_gpu_check_dry_run(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    proc = subprocess.run(['bash', SCRIPT, '--dry-run', '--out',
                           str(tmp_path)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'speedup:' in proc.stdout
    summary = json.load(open(tmp_path / 'gpu_check.json'))
    assert summary['mode'] == 'dry-run'
    assert summary['config'] == 'configs/albef/pretrain_shapes_tiny.py'
    assert summary['batch_size'] == 4 and summary['iters'] == 1
    assert summary['mfu_against'] == 'float32'
    peak = summary['gemm_peak_tflops']['float32']
    assert peak > 0
    fp32 = summary['runs']['fp32']
    for key in ('samples_per_s', 'peak_memory_gib', 'model_tflops_per_s',
                'gflop_per_step', 'mfu', 'speedup_vs_reference',
                'max_rel_diff'):
        assert fp32[key] > 0 or key == 'max_rel_diff', key
    assert fp32['mfu'] == pytest.approx(fp32['model_tflops_per_s'] / peak)
    assert fp32['samples_per_s'] == pytest.approx(4 / fp32['s_per_iter'])
    assert fp32['max_rel_diff'] < 1e-2
    assert 'needs a GPU' in summary['runs']['bf16']['skipped']
    bench = json.load(open(tmp_path / 'bench_fp32.json'))
    assert bench['device'] == 'cpu' and bench['amp'] is False


def test_gpu_check_rejects_unknown_arguments():
    proc = subprocess.run(['bash', SCRIPT, '--bogus'], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown argument '--bogus'" in proc.stderr
