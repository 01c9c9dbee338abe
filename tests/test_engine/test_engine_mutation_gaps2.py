"""Tests written for the survivors of the fifth mutation batch (pkg5) on the
engine's newer modules: crash-safe writes, progress lines, mid-epoch
resume, TensorBoard switch, the evaluation progress hook and the VQA
answer-coverage hook. Every test is a unit test on hand-built inputs with
hand-computed expectations (no runner, no model)."""
import logging
import os
import types

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import EpochBasedTrainLoop, Runner
from torch.utils.data import DataLoader, SequentialSampler

from albef_mm.engine.atomic_io import (TMP_MARK, atomic_path,
                                       atomic_write_text,
                                       remove_stale_temporaries,
                                       temporary_name)
from albef_mm.engine.hooks.eval_progress_hook import EvalProgressHook
from albef_mm.engine.hooks.vqa_coverage_hook import VQAAnswerCoverageHook
from albef_mm.engine.progress import ETAProgress, format_seconds
from albef_mm.engine.runner.resume_position import (SkipFirstSampler,
                                                    skip_consumed_batches)
from albef_mm.engine.vis_backends import enable_tensorboard

# ---------------------------------------------------------------- atomic_io


def test_temporary_name_is_hidden_and_cleaned_up_in_odd_folders(tmp_path):
    folder = tmp_path / 'ckpt[1]'  # glob metacharacters in the folder name
    target = folder / 'sub' / 'epoch_1.pth'
    # the folder is created on demand
    atomic_write_text(str(target), 'weights')
    assert target.read_text() == 'weights'
    tmp = temporary_name(str(target))
    assert os.path.basename(tmp) == f'.epoch_1.pth{TMP_MARK}{os.getpid()}'
    assert os.path.dirname(tmp) == str(folder / 'sub')
    # a temporary of this very process (an earlier, interrupted write) is
    # stale as well
    with open(tmp, 'w') as f:
        f.write('partial')
    assert remove_stale_temporaries(str(folder / 'sub')) == [tmp]
    assert sorted(os.listdir(folder / 'sub')) == ['epoch_1.pth']


def test_atomic_path_cleans_up_after_keyboard_interrupt(tmp_path):
    target = tmp_path / 'last_checkpoint'
    target.write_text('old')
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(str(target)) as tmp:
            with open(tmp, 'w') as f:
                f.write('new')
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ['last_checkpoint']
    assert target.read_text() == 'old'


# ----------------------------------------------------------------- progress


def test_format_seconds_rounds_and_clamps():
    assert format_seconds(59.6) == '0:01:00'  # rounded, not truncated
    assert format_seconds(-3.0) == '0:00:00'  # clock jitter is no error
    assert format_seconds(7322) == '2:02:02'


def test_progress_emits_when_the_interval_is_reached_exactly():
    now = [0.0]
    lines = []
    bar = ETAProgress(3, 'x', interval=2, emit=lines.append,
                      clock=lambda: now[0])
    for _ in range(3):
        now[0] += 2.0
        bar.update()
    assert lines == ['x 1/3 (33%), 0:00:02 elapsed, ETA 0:00:04',
                     'x 2/3 (66%), 0:00:04 elapsed, ETA 0:00:02',
                     'x 3/3 (100%), 0:00:06 elapsed, done']


def test_progress_always_emits_the_last_step():
    now = [0.0]
    lines = []
    bar = ETAProgress(3, 'y', interval=100, emit=lines.append,
                      clock=lambda: now[0])
    for _ in range(3):
        now[0] += 1.0
        bar.update()
    assert lines == ['y 1/3 (33%), 0:00:01 elapsed, ETA 0:00:02',
                     'y 3/3 (100%), 0:00:03 elapsed, done']


# ------------------------------------------------------------ mid-epoch resume


def _loop(epoch, it, n=10, batch_size=2):
    loop = EpochBasedTrainLoop.__new__(EpochBasedTrainLoop)
    data = list(range(n))
    loop.dataloader = DataLoader(data, batch_size=batch_size,
                                 sampler=SequentialSampler(data))
    loop._epoch, loop._iter = epoch, it
    return types.SimpleNamespace(train_loop=loop), loop


def _batches(loader):
    return [b.tolist() for b in loader]


def test_resume_in_the_middle_skips_the_trained_samples_once():
    runner, loop = _loop(epoch=1, it=7)  # 5 batches per epoch, 2 trained
    assert skip_consumed_batches(runner) == 2
    assert len(loop.dataloader) == 5  # the epoch's length, not the rest
    assert _batches(loop.dataloader) == [[4, 5], [6, 7], [8, 9]]
    # the next epoch is complete again
    assert _batches(loop.dataloader) == [[0, 1], [2, 3], [4, 5], [6, 7],
                                         [8, 9]]


def test_resume_at_epoch_boundaries():
    runner, loop = _loop(epoch=2, it=10)  # a checkpoint after epoch 2
    sampler = loop.dataloader.batch_sampler.sampler
    assert skip_consumed_batches(runner) is None
    assert loop.dataloader.batch_sampler.sampler is sampler
    # saved after the last iteration of epoch 1, before its epoch end:
    # the whole epoch was trained, nothing of it is left
    runner, loop = _loop(epoch=1, it=10)
    assert skip_consumed_batches(runner) == 5
    assert _batches(loop.dataloader) == []
    assert len(_batches(loop.dataloader)) == 5


def test_skip_first_sampler_sets_the_torch_state_once_and_forwards_epoch():
    class Recording(SequentialSampler):
        epochs = []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

    torch.manual_seed(3)
    state = torch.get_rng_state()
    expected = torch.rand(1)
    sampler = SkipFirstSampler(Recording(range(4)), 1, torch_state=state)
    torch.rand(5)  # the stream moves on before the first pass
    it = iter(sampler)
    assert next(it) == 1
    assert torch.equal(torch.rand(1), expected)
    assert list(it) == [2, 3]
    assert list(sampler) == [0, 1, 2, 3]
    # no second reset: the stream does not restart at `expected`
    assert not torch.equal(torch.rand(1), expected)
    sampler.set_epoch(4)
    assert Recording.epochs == [4]


# -------------------------------------------------------------- tensorboard


def test_enable_tensorboard_adds_the_backend_once_keeping_local_logs():
    cfg = Config(dict())
    enable_tensorboard(cfg)
    enable_tensorboard(cfg)
    assert [b['type'] for b in cfg.visualizer['vis_backends']] == [
        'LocalVisBackend', 'TensorboardVisBackend']


# ---------------------------------------------------------- eval progress hook


class _Logger:
    def __init__(self):
        self.records = []

    def info(self, msg):
        self.records.append((logging.INFO, msg))

    def warning(self, msg):
        self.records.append((logging.WARNING, msg))

    def log(self, level, msg):
        self.records.append((level, msg))


def test_eval_progress_hook_counts_test_batches_of_the_test_loader():
    runner = types.SimpleNamespace(logger=_Logger(), val_dataloader=[0] * 3,
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


# ----------------------------------------------------------- VQA coverage hook


class _Split:
    def __init__(self, name, gts):
        self.ann_file, self.gts = name, gts

    def __len__(self):
        return len(self.gts)

    def get_data_info(self, i):
        return dict(gt_answer=self.gts[i])


def _coverage_runner(val, test):
    model = types.SimpleNamespace(answer_list=['red', 'blue'],
                                  _answer_file='answers.json')
    return types.SimpleNamespace(
        model=model, logger=_Logger(),
        val_dataloader=types.SimpleNamespace(dataset=val),
        test_dataloader=types.SimpleNamespace(dataset=test))


def test_coverage_hook_checks_each_split_once():
    val = _Split('val.json', [['red'] * 10, ['green'] * 10])
    test = _Split('test.json', [['blue'] * 10, None, ['pink'] * 10,
                                ['pink'] * 10])
    runner = _coverage_runner(val, test)
    hook = VQAAnswerCoverageHook()
    hook.before_val(runner)
    hook.before_val(runner)  # a second validation: no second report
    assert [(r['ann_files'], r['num_questions'], r['num_uncovered'])
            for r in hook.reports] == [(['val.json'], 2, 1)]
    warnings = [m for lvl, m in runner.logger.records
                if lvl == logging.WARNING]
    assert len(warnings) == 1 and 'of 1 of 2 questions (50.00%)' in \
        warnings[0]
    runner.logger.records.clear()
    hook.before_test(runner)  # same answer list, another split
    assert [(r['ann_files'], r['num_questions'], r['num_uncovered'])
            for r in hook.reports][1:] == [(['test.json'], 3, 2)]
    msgs = [m for _, m in runner.logger.records]
    assert len(msgs) == 2
    assert 'of 2 of 3 questions (66.67%) of test.json' in msgs[0]
    assert "Most frequent missing answers: ['pink']" in msgs[0]
    assert msgs[1] == ('1 questions without ground-truth answers were not '
                       'counted')


# ------------------------------------------------------ atomic checkpoint hook


class _Toy(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return [dict(v=float(v)) for v in out]


class _Scheduled(BaseMetric):
    """Reports the next values of a fixed schedule at each evaluation."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = list(schedule)

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return self.schedule.pop(0)


@pytest.fixture
def restore_default_scope():
    """A plain MMEngine Runner makes 'mmengine' the current default scope;
    drop the scopes a test creates so later tests build in their own."""
    from mmengine.registry import DefaultScope
    before = set(DefaultScope._instance_dict)
    yield
    for name in list(DefaultScope._instance_dict):
        if name not in before:
            del DefaultScope._instance_dict[name]


def test_atomic_checkpoint_hook_keeps_the_last_and_the_best_files(
        tmp_path, restore_default_scope):
    from albef_mm.engine.hooks.atomic_checkpoint_hook import \
        AtomicCheckpointHook
    work, out = tmp_path / 'work', tmp_path / 'out'
    # checkpoints go to OUT/work; a temporary of a killed save is there
    (out / 'work').mkdir(parents=True)
    stale = out / 'work' / '.epoch_9.pth.tmp-999999999'
    stale.write_bytes(b'x')
    data = [dict(inputs=torch.ones(1)) for _ in range(2)]
    loader = dict(dataset=data, batch_size=2, collate_fn=dict(
        type='pseudo_collate'), sampler=dict(type='DefaultSampler',
                                             shuffle=False))
    # 'acc' improves at epochs 1, 2, 4; 'neg' at epochs 1 and 3
    schedule = [dict(acc=a, neg=n) for a, n in
                ((1, 5), (3, 4), (2, 6), (5, 1))]
    hook = AtomicCheckpointHook(interval=1, max_keep_ckpts=2,
                                out_dir=str(out), save_best=['acc', 'neg'],
                                rule=['greater', 'greater'])
    # a second hook keeps only the best file of a single key
    single = AtomicCheckpointHook(interval=100, save_last=False,
                                  out_dir=str(tmp_path / 'best'),
                                  save_best='acc', rule='greater')
    runner = Runner(
        model=_Toy(), work_dir=str(work), train_dataloader=loader,
        val_dataloader=loader, val_evaluator=Evaluator(_Scheduled(schedule)),
        train_cfg=dict(by_epoch=True, max_epochs=4, val_interval=1),
        val_cfg=dict(), optim_wrapper=dict(optimizer=dict(type='SGD',
                                                          lr=0.01)),
        default_hooks=dict(checkpoint=hook), custom_hooks=[single],
        default_scope='mmengine')
    runner.train()
    assert os.listdir(tmp_path / 'best' / 'work') == ['best_acc_epoch_4.pth']
    saved = out / 'work'
    assert not stale.exists()
    assert sorted(os.listdir(saved)) == [
        'best_acc_epoch_4.pth', 'best_neg_epoch_3.pth', 'epoch_3.pth',
        'epoch_4.pth']
    # last_checkpoint stays in the work dir, where resume='auto' looks
    assert (work / 'last_checkpoint').read_text() == str(saved /
                                                         'epoch_4.pth')
    # a second save of the same step (after a best save) keeps epoch 3
    hook._save_checkpoint_with_step(runner, 4, dict(epoch=4, iter=4))
    assert sorted(os.listdir(saved))[2:] == ['epoch_3.pth', 'epoch_4.pth']
    # checkpoints saved by DeepSpeed are directories
    (saved / 'ds.pth').mkdir()
    assert hook._remove(str(saved / 'ds.pth'))
    assert not (saved / 'ds.pth').exists()


# -------------------------------------------------------------- config check


def test_config_check_hints_loose_matches_and_skips_scoped_types():
    from albef_mm.engine.config_check import check_config_types
    # scoped names are MMEngine's to resolve
    check_config_types(Config(dict(
        custom_hooks=[dict(type='mmengine.EmptyCacheHook')])))
    # 'MomentumHook' is 0.8 similar to 'MomentumUpdateHook' (difflib ratio
    # 2 * 12 / 30): still a suggestion
    with pytest.raises(KeyError) as err:
        check_config_types(Config(dict(
            custom_hooks=[dict(type='MomentumHook')])))
    assert "custom_hooks[0].type='MomentumHook' is not registered; did " \
        "you mean [" in str(err.value)
    assert "'MomentumUpdateHook'" in str(err.value)
