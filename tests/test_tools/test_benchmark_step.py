"""tools/analysis/benchmark.py (--reference --decompose, --amp on a CPU)
and benchmark_compile_blocks.py, on the tiny Shapes model."""
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

from helpers import CONFIG_ROOT
from helpers.page_faults import ON_GLIBC, expected_faults
from helpers.tiny import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis'))
import benchmark  # noqa: E402
import benchmark_compile_blocks  # noqa: E402

CONFIG = osp.join(CONFIG_ROOT, 'albef', 'pretrain_shapes_tiny.py')
VOCAB = osp.join(REPO_ROOT, 'data', 'shapes', 'vocab.txt')
needs_vocab = pytest.mark.skipif(
    not osp.exists(VOCAB), reason='data/shapes/vocab.txt missing: run '
    'tools/dataset_converters/generate_shapes.py data/shapes (README '
    'command 1) first')


@needs_vocab
def test_reference_path_switches_every_optimization_off():
    cfg = Config.fromfile(CONFIG)
    args = benchmark.parse_args([CONFIG, '--batch-size', '4'])
    model, optim = benchmark.build(cfg, args)
    assert all(g['fused'] for g in optim.optimizer.param_groups)
    assert 'fuse_rows' not in vars(model)  # the model's K/V reuse
    assert model.mlm_head.logits_at_labels_only is None  # auto: on on CPU
    ref, ref_optim = benchmark.build(cfg, args, ())
    assert not any(g['fused'] for g in ref_optim.optimizer.param_groups)
    assert vars(ref)['fuse_rows'].__func__.__name__ == '_fuse_rows_plain'
    assert ref.mlm_head.logits_at_labels_only is False
    mid, _ = benchmark.build(cfg, args, ('reuse_image_kv',))
    assert 'fuse_rows' not in vars(mid)
    assert mid.mlm_head.logits_at_labels_only is False
    with pytest.raises(ValueError, match=r"unknown optimizations \['x'\]"):
        benchmark.build(cfg, args, ('x',))


@needs_vocab
def test_decompose_times_the_ladder_with_equal_gradients(tmp_path):
    out = tmp_path / 'bench.json'
    result = benchmark.main([CONFIG, '--batch-size', '4', '--iters', '2',
                             '--warmup', '1', '--threads', '1',
                             '--reference', '--decompose', '--json',
                             str(out)])
    assert set(benchmark.LADDER) <= set(result)
    assert result['max_rel_diff'] < 1e-2
    gflop = {name: result[name]['gflop_per_step']
             for name in benchmark.LADDER}
    # Each step of the ladder removes work, except the AdamW kernel
    # (the optimizer step is not counted).
    assert gflop['+reuse_image_kv'] < gflop['reference']
    assert gflop['+mlm_logits_at_labels_only'] < gflop['+reuse_image_kv']
    assert gflop['optimized'] == pytest.approx(
        gflop['+mlm_logits_at_labels_only'])
    assert result['flops'] / 1e9 == pytest.approx(gflop['optimized'])
    # The tuning was applied, and the tiny step re-uses its memory: a
    # handful of page faults per step, not the process's running total.
    assert result['malloc_kept'] is ON_GLIBC
    for name in benchmark.LADDER:
        assert 0 <= result[name]['page_faults_per_step'] < 5000, name
    for name in ('+reuse_image_kv', '+mlm_logits_at_labels_only'):
        row = result[name]
        assert row['speedup_over_reference'] == pytest.approx(
            result['reference']['s_per_iter'] / row['s_per_iter'])
    assert result['speedup'] == pytest.approx(
        result['reference']['s_per_iter'] /
        result['optimized']['s_per_iter'])
    assert out.exists()


@needs_vocab
def test_amp_on_cpu_uses_the_bf16_autocast_wrapper():
    cfg = Config.fromfile(CONFIG)
    args = benchmark.parse_args([CONFIG, '--batch-size', '4', '--amp',
                                 '--device', 'cpu'])
    model, optim = benchmark.build(cfg, args)
    assert type(optim).__name__ == 'BF16AutocastOptimWrapper'
    batch = benchmark.synthetic_batch(model, 4, 8, 'cpu')
    seen = []
    linear = next(m for m in model.vision_backbone.modules()
                  if isinstance(m, torch.nn.Linear))
    handle = linear.register_forward_hook(
        lambda m, i, o: seen.append(o.dtype))
    losses = benchmark.make_step(model, optim, batch)()
    handle.remove()
    assert seen == [torch.bfloat16]
    assert all(torch.isfinite(v) for v in losses.values())


def test_compile_blocks_tool_plumbing(monkeypatch):
    """Shapes of the two blocks and the report, with torch.compile
    replaced by the identity (the real compile is what the tool measures;
    too slow for a unit test)."""
    args = benchmark_compile_blocks.parse_args(
        ['--width', '32', '--heads', '2', '--batch-size', '2',
         '--text-length', '5', '--image-tokens', '9', '--iters', '1',
         '--device', 'cpu'])
    (vit_name, vit, vit_in), (fus_name, fus, fus_in) = \
        benchmark_compile_blocks.blocks(args)
    assert vit_in[0].shape == (2, 9, 32)
    assert fus_in[0].shape == (6, 5, 32)  # the 3B ITM rows
    assert fus_in[2].shape == (6, 9, 32)
    assert vit(*vit_in).shape == (2, 9, 32)
    assert fus(*fus_in).shape == (6, 5, 32)
    compiled = []
    monkeypatch.setattr(benchmark_compile_blocks.torch, 'compile',
                        lambda m: compiled.append(m) or m)
    result = benchmark_compile_blocks.main(
        ['--width', '32', '--heads', '2', '--batch-size', '2',
         '--text-length', '5', '--image-tokens', '9', '--iters', '1',
         '--device', 'cpu'])
    assert len(compiled) == 2
    for name in (vit_name, fus_name):
        row = result['blocks'][name]
        assert row['eager_s'] > 0 and row['compiled_s'] > 0
        assert row['speedup'] == pytest.approx(
            row['eager_s'] / row['compiled_s'])


@pytest.mark.skipif(not osp.exists('/proc/self/status'),
                    reason='needs Linux /proc for VmHWM')
def test_child_peak_memory_excludes_the_parents(tmp_path):
    """A child started while the parent holds 1 GiB reports its own peak,
    not the parent's (``ru_maxrss`` would report >= 1 GiB here)."""
    import subprocess
    held = torch.ones(2**28)  # 1 GiB in the parent
    code = ('import sys; sys.path.insert(0, %r); import benchmark; '
            "print(benchmark.peak_memory_gib('cpu'))"
            % osp.join(REPO_ROOT, 'tools', 'analysis'))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    child = float(out.stdout.strip().splitlines()[-1])
    assert 0.05 < child < 0.9, child  # torch + mmengine imported, no 1 GiB
    assert benchmark.peak_memory_gib('cpu') >= 1.0
    del held


def test_page_fault_counter_sees_fresh_memory():
    """In a fresh process (this one may keep freed memory for reuse)."""
    import subprocess
    code = ('import sys, torch; sys.path.insert(0, %r); import benchmark; '
            'before = benchmark.minor_page_faults(); '
            'x = torch.ones(64 * 2**20); '
            'print(benchmark.minor_page_faults() - before)'
            % osp.join(REPO_ROOT, 'tools', 'analysis'))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    faults = int(out.stdout.strip().splitlines()[-1])
    # 65,536 pages of 4 KiB touched (128 with transparent huge pages)
    assert faults >= expected_faults(256 * 2**20) // 2, faults
