"""keep_freed_cpu_memory: glibc keeps freed tensor memory (no page faults
on re-use), other C libraries are left alone, and the tools apply it on
CPU-only machines unless --default-malloc."""
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from helpers.page_faults import (ON_GLIBC, expected_faults,
                                          fault_granularity)
from helpers.scripts import load_script
from helpers.tiny import REPO_ROOT
from albef_mm.utils import cpu_allocator


# Allocate and free a 64 MiB tensor six times; print whether the tuning
# was applied and the page faults of each allocation.
FAULTS = '''
import resource, sys, torch
from albef_mm.utils import keep_freed_cpu_memory
kept = keep_freed_cpu_memory() if sys.argv[1] == 'keep' else False
faults = []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.ones(16 * 2**20)
    del x
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(kept, *faults)
'''


def _faults(mode):
    out = subprocess.run([sys.executable, '-c', FAULTS, mode],
                         capture_output=True, text=True, check=True)
    kept, *faults = out.stdout.strip().splitlines()[-1].split()
    return kept == 'True', [int(f) for f in faults]


@pytest.mark.skipif(not ON_GLIBC, reason='needs glibc on Linux')
def test_freed_memory_is_reused_without_page_faults():
    pages = expected_faults(64 * 2**20)  # 16,384 (32 with huge pages)
    kept, default = _faults('default')
    assert not kept
    # glibc maps every 64 MiB block afresh: all its pages fault each time.
    assert min(default) >= pages // 2, default
    kept, tuned = _faults('keep')
    assert kept
    # Steady state: the heap is re-used. (One of the first allocations may
    # still extend the heap, when a small block has landed after the
    # first one's hole.)
    assert max(tuned[-3:]) < max(pages // 100, 2), tuned
    assert sum(f >= pages // 2 for f in tuned) <= 2, tuned


def _logged(monkeypatch):
    messages = []
    monkeypatch.setattr(cpu_allocator, 'print_log',
                        lambda msg, logger=None: messages.append(msg))
    return messages


def test_other_c_libraries_are_left_alone(monkeypatch):
    messages = _logged(monkeypatch)
    monkeypatch.setattr(cpu_allocator.platform, 'libc_ver',
                        lambda: ('musl', '1.2'))
    assert cpu_allocator.keep_freed_cpu_memory() is False
    assert len(messages) == 1
    assert 'needs glibc on Linux' in messages[0] and 'musl' in messages[0]


@pytest.mark.parametrize('refused', ['M_MMAP_MAX', 'M_TRIM_THRESHOLD'])
def test_a_refused_setting_is_reported(monkeypatch, refused):
    messages = _logged(monkeypatch)
    calls = []

    def mallopt(param, value):
        calls.append((param, value))
        return 0 if param == getattr(cpu_allocator, refused) else 1

    monkeypatch.setattr(cpu_allocator, '_glibc',
                        lambda: SimpleNamespace(mallopt=mallopt))
    assert cpu_allocator.keep_freed_cpu_memory() is False
    expected = [(cpu_allocator.M_MMAP_MAX, 0),
                (cpu_allocator.M_TRIM_THRESHOLD, 2**31 - 1)]
    assert calls == expected[:1 if refused == 'M_MMAP_MAX' else 2]
    assert len(messages) == 1 and f'{refused}' in messages[0]
    assert 'failed' in messages[0]


def test_success_is_logged(monkeypatch):
    messages = _logged(monkeypatch)
    monkeypatch.setattr(cpu_allocator, '_glibc', lambda: SimpleNamespace(
        mallopt=lambda param, value: 1))
    assert cpu_allocator.keep_freed_cpu_memory() is True
    assert len(messages) == 1 and 'kept for reuse' in messages[0]


def _load_tool(name):
    """tools/<name>.py as a fresh module (the caller puts tools/ on the
    path where the tool imports its siblings)."""
    return load_script('tools', name + '.py',
                       name=f'albef_{name}_tool_malloc')


@pytest.mark.parametrize('cuda,flag,applied', [
    (False, False, True), (False, True, False), (True, False, False)])
def test_tools_apply_it_on_cpu_only_machines(monkeypatch, cuda, flag,
                                             applied):
    tool = _load_tool('train')
    calls = []
    monkeypatch.setattr(tool, 'keep_freed_cpu_memory',
                        lambda: calls.append(1) or True)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    args = tool.parse_args(['cfg.py'] + (['--default-malloc'] if flag
                                         else []))
    assert args.default_malloc is flag
    assert tool.tune_cpu_allocator(args) is applied
    assert len(calls) == int(applied)


def test_benchmark_passes_the_choice_to_its_memory_child(monkeypatch):
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis'))
    import benchmark
    seen = []

    def run(cmd, **kwargs):
        seen.append(cmd)
        return SimpleNamespace(stdout='log line\n1.5\n')

    monkeypatch.setattr(benchmark.subprocess, 'run', run)
    for flag in ([], ['--default-malloc']):
        args = benchmark.parse_args(['cfg.py', '--device', 'cpu'] + flag)
        assert benchmark.child_peak(args, 'optimized') == 1.5
        assert ('--default-malloc' in seen[-1]) is bool(flag)


class _Stop(Exception):
    pass


@pytest.mark.parametrize('tool_name', ['train', 'test'])
def test_tool_mains_tune_the_allocator_first(monkeypatch, tool_name):
    """main() of tools/train.py and tools/test.py asks for the tuning with
    the parsed arguments before reading the config."""
    # tools/test.py imports train
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools'))
    tool = _load_tool(tool_name)
    seen = []

    def tune(args):
        seen.append(args)
        raise _Stop

    monkeypatch.setattr(tool, 'tune_cpu_allocator', tune)
    argv = ['missing_config.py'] + (['ckpt.pth'] if tool_name == 'test'
                                    else []) + ['--default-malloc']
    with pytest.raises(_Stop):
        tool.main(argv)
    assert len(seen) == 1 and seen[0].default_malloc is True


@pytest.mark.parametrize('mode,size', [
    ('[always] madvise never', 2 * 2**20), ('always [madvise] never', 4096),
    ('always madvise [never]', 4096), (None, 4096)])
def test_fault_granularity_follows_the_huge_page_mode(tmp_path, mode, size):
    path = tmp_path / 'enabled'
    if mode is not None:
        path.write_text(mode + '\n')
    assert fault_granularity(str(path)) == size
