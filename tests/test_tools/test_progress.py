"""Progress lines with ETA: the shared helper, the evaluation loops
(batch-wise loops through EvalProgressHook, the retrieval loop's stages),
the checkpoint converter and the Shapes generator tool -- and that the
outputs stay what they were."""
import hashlib
import os
import os.path as osp
import types

import pytest
import torch
from conftest import oracle_fixture
from mmengine.config import Config

from albef_mm.checkpoint import convert_albef_state_dict
from albef_mm.datasets import generate_shapes
from albef_mm.engine.hooks.eval_progress_hook import EvalProgressHook
from albef_mm.engine.progress import ETAProgress, format_seconds
from helpers import CONFIG_ROOT
from helpers.recording import RecordingLogger, validate_with_logs
from helpers.scripts import load_script


def _tool(*parts):
    return load_script('tools', *parts)


def test_eta_progress_lines():
    now = [100.0]
    lines = []
    bar = ETAProgress(10, 'encoding, batch', interval=5, emit=lines.append,
                      clock=lambda: now[0])
    for _ in range(10):
        now[0] += 2.0  # 2 s per step
        bar.update()
    # first step, then every >= 5 s (steps 4, 7, 10: 6 s apart), last step
    assert lines == [
        'encoding, batch 1/10 (10%), 0:00:02 elapsed, ETA 0:00:18',
        'encoding, batch 4/10 (40%), 0:00:08 elapsed, ETA 0:00:12',
        'encoding, batch 7/10 (70%), 0:00:14 elapsed, ETA 0:00:06',
        'encoding, batch 10/10 (100%), 0:00:20 elapsed, done']
    assert format_seconds(3725.4) == '1:02:05'


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(root), num_train=8, num_val=4, num_test=4)
    return str(root) + '/'


def _val(config, shapes, tmp_path, extra):
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', config))
    cfg.merge_from_dict({
        'work_dir': str(tmp_path), 'load_from': None,
        'model.data_preprocessor.tokenizer.name_or_path':
        shapes + 'vocab.txt',
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'val_dataloader.dataset.data_root': shapes, **extra})
    _, metrics, records = validate_with_logs(cfg)
    return metrics, [record.getMessage() for record in records]


def test_batchwise_eval_loop_logs_progress(shapes, tmp_path):
    # SNLI-VE dev: 12 hypotheses in batches of 5 -> 3 batches
    metrics, lines = _val('snli_ve_shapes_tiny.py', shapes, tmp_path,
                          {'val_dataloader.batch_size': 5})
    progress = [ln for ln in lines if ln.startswith('val: batch')]
    assert progress[0].startswith('val: batch 1/3 (33%), 0:00:')
    assert ', ETA 0:00:' in progress[0]
    assert progress[-1].startswith('val: batch 3/3 (100%)')
    assert progress[-1].endswith('elapsed, done')
    assert 0 <= metrics['accuracy/acc'] <= 100


def test_retrieval_loop_logs_each_stage(shapes, tmp_path):
    metrics, lines = _val('retrieval_shapes_tiny.py', shapes, tmp_path,
                          {'val_dataloader.batch_size': 2,
                           'model.itc_head.queue_size': 16,
                           'val_cfg.k_test': 2})
    done = [ln for ln in lines if ln.endswith('done')]
    # 4 images in 2 batches, 20 captions, ITM re-ranking of 4 images
    assert any(ln.startswith('retrieval eval: encoding images, batch 2/2 '
                             '(100%)') for ln in done), lines
    assert any(ln.startswith('retrieval eval: encoding texts, text 20/20')
               for ln in done), lines
    assert any(ln.startswith('retrieval eval: ITM re-ranking, image 4/4')
               for ln in done), lines
    assert 'retrieval/r_mean' in metrics


def test_converter_progress_and_unchanged_output(tmp_path, capsys):
    tool = _tool('model_converters', 'albef_to_mm.py')
    fx = torch.load(oracle_fixture('pretrain.pth'))
    src, dst = tmp_path / 'albef.pth', tmp_path / 'mm.pth'
    torch.save({'model': fx['model']}, src)
    assert tool.main([str(src), str(dst)]) == 0
    out = capsys.readouterr().out
    assert '[3/3] writing' in out
    written = [ln for ln in out.splitlines() if 'written MiB' in ln]
    assert written and written[-1].strip().endswith('elapsed, done')
    expected, _ = convert_albef_state_dict(fx['model'])
    got = torch.load(dst)['state_dict']
    assert list(got) == list(expected)
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_converter_write_is_atomic(tmp_path, monkeypatch, capsys):
    tool = _tool('model_converters', 'albef_to_mm.py')
    fx = torch.load(oracle_fixture('pretrain.pth'))
    src, dst = tmp_path / 'albef.pth', tmp_path / 'mm.pth'
    torch.save({'model': fx['model']}, src)
    dst.write_bytes(b'previous')
    real_save = torch.save

    def dies_half_way(obj, f):
        f.write(b'x' * 1000)
        raise KeyboardInterrupt  # e.g. Ctrl-C during the write

    monkeypatch.setattr(torch, 'save', dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        # replacing an existing DST needs --overwrite; the old file must
        # survive a write that dies half-way
        tool.main([str(src), str(dst), '--overwrite'])
    monkeypatch.setattr(torch, 'save', real_save)
    assert dst.read_bytes() == b'previous'
    assert sorted(os.listdir(tmp_path)) == ['albef.pth', 'mm.pth']


def _digest(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = osp.join(root, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, folder)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


def test_generate_shapes_tool_progress_and_identical_files(tmp_path,
                                                           capsys):
    tool = _tool('dataset_converters', 'generate_shapes.py')
    assert tool.eta_suffix('images: 500/2000', 10.0) == \
        ' (25%), ETA 0:00:30'
    assert tool.eta_suffix('images: 2000/2000', 40.0) == ' (100%)'
    assert tool.eta_suffix('wrote 20 files to x', 1.0) == ''
    # the tool's default adds the 14,000 pre-training-only images the
    # Shapes pre-training config trains on; the library's default adds none
    assert tool.parse_args(['x']).num_pretrain_extra == 14000
    tool.main([str(tmp_path / 'tool'), '--num-train', '6', '--num-val',
               '2', '--num-test', '2', '--num-pretrain-extra', '0'])
    out = capsys.readouterr().out
    assert 'images: 10/10 (100%)' in out
    generate_shapes(str(tmp_path / 'lib'), num_train=6, num_val=2,
                    num_test=2)
    assert _digest(tmp_path / 'tool') == _digest(tmp_path / 'lib')


def test_format_seconds_rounds_and_clamps():
    assert format_seconds(59.6) == '0:01:00'  # rounded, not truncated
    assert format_seconds(-3.0) == '0:00:00'  # clock jitter is no error
    assert format_seconds(7322) == '2:02:02'


def _progress_lines(label, interval, step, total=3):
    """The lines ETAProgress emits for ``total`` updates ``step`` seconds
    apart, on a fake clock."""
    now = [0.0]
    lines = []
    bar = ETAProgress(total, label, interval=interval, emit=lines.append,
                      clock=lambda: now[0])
    for _ in range(total):
        now[0] += step
        bar.update()
    return lines


def test_progress_emits_when_the_interval_is_reached_exactly():
    assert _progress_lines('x', interval=2, step=2.0) == [
        'x 1/3 (33%), 0:00:02 elapsed, ETA 0:00:04',
        'x 2/3 (66%), 0:00:04 elapsed, ETA 0:00:02',
        'x 3/3 (100%), 0:00:06 elapsed, done']


def test_progress_always_emits_the_last_step():
    assert _progress_lines('y', interval=100, step=1.0) == [
        'y 1/3 (33%), 0:00:01 elapsed, ETA 0:00:02',
        'y 3/3 (100%), 0:00:03 elapsed, done']


def test_eval_progress_hook_counts_test_batches_of_the_test_loader():
    runner = types.SimpleNamespace(logger=RecordingLogger(), val_dataloader=[0] * 3,
                                   test_dataloader=[0] * 2)
    hook = EvalProgressHook()
    assert hook.interval == 30.0
    hook.before_test_epoch(runner)
    for i in range(2):
        hook.after_test_iter(runner, i)
    msgs = [m for _, m in runner.logger.records]
    assert len(msgs) == 2
    assert msgs[0].startswith('test: batch 1/2 (50%), 0:00:0')
    assert msgs[1].startswith('test: batch 2/2 (100%)')
