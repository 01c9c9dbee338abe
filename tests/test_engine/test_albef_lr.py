import math

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from albef_mm.engine.runner import ALBEFRunner
from albef_mm.engine.schedulers import ALBEFStepWarmupCosineLR
from albef_mm.registry import PARAM_SCHEDULERS

# --------------------------------------------------------------------------
# A small hand-written reference: timm's CosineLRScheduler as configured by
# ALBEF (warmup_prefix=True, t_mul=1, decay_rate=1, cycle_limit=1, noise off),
# driven exactly like the original training scripts.
# --------------------------------------------------------------------------


class _RefVirtualTimeCosine:

    def __init__(self, param_groups, t_initial, lr_min, warmup_t,
                 warmup_lr_init):
        self.param_groups = param_groups
        self.base_values = [g['lr'] for g in param_groups]
        self.t_initial = t_initial
        self.lr_min = lr_min
        self.warmup_t = warmup_t
        self.warmup_lr_init = warmup_lr_init
        if warmup_t:
            self.warmup_steps = [(v - warmup_lr_init) / warmup_t
                                 for v in self.base_values]
            for g in param_groups:  # timm sets warmup_lr at construction
                g['lr'] = warmup_lr_init

    def _get_lr(self, t):
        if t < self.warmup_t:
            return [self.warmup_lr_init + t * s for s in self.warmup_steps]
        t = t - self.warmup_t
        cycle = t // self.t_initial
        t_curr = t - self.t_initial * cycle
        if cycle >= 1:
            return [self.lr_min for _ in self.base_values]
        return [
            self.lr_min + 0.5 * (v - self.lr_min) *
            (1 + math.cos(math.pi * t_curr / self.t_initial))
            for v in self.base_values
        ]

    def step(self, t):
        for g, lr in zip(self.param_groups, self._get_lr(t)):
            g['lr'] = lr


def reference_lrs(base_lrs, warmup_lr, min_lr, warmup_epochs, max_epochs,
                  num_epochs, epoch_length, step_size=100):
    """lr of every param group at every training iteration (original)."""
    groups = [dict(lr=lr) for lr in base_lrs]
    scheduler = _RefVirtualTimeCosine(groups, max_epochs, min_lr,
                                      warmup_epochs, warmup_lr)
    warmup_iterations = warmup_epochs * step_size
    lrs = []
    for epoch in range(num_epochs):
        if epoch > 0:
            scheduler.step(epoch + warmup_epochs)
        for i in range(epoch_length):
            lrs.append([g['lr'] for g in groups])  # used by optimizer.step()
            if (epoch == 0 and i % step_size == 0
                    and i <= warmup_iterations):
                scheduler.step(i // step_size)
    return lrs


def _optimizer(base_lrs):
    params = [nn.Parameter(torch.zeros(1)) for _ in base_lrs]
    return torch.optim.SGD(
        [dict(params=[p], lr=lr) for p, lr in zip(params, base_lrs)], lr=1.)


def scheduler_lrs(base_lrs, warmup_lr, min_lr, warmup_epochs, max_epochs,
                  num_epochs, epoch_length, step_size=100):
    optimizer = _optimizer(base_lrs)
    scheduler = ALBEFStepWarmupCosineLR(
        optimizer,
        warmup_lr=warmup_lr,
        min_lr=min_lr,
        warmup_epochs=warmup_epochs,
        max_epochs=max_epochs,
        epoch_length=epoch_length,
        step_size=step_size)
    lrs = []
    for _ in range(num_epochs * epoch_length):
        lrs.append([g['lr'] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return lrs


CASES = dict(
    # 3 epochs x 250 iterations, warm-up of 2 x 100 iterations
    basic=dict(base_lrs=[1e-4], warmup_lr=1e-5, min_lr=1e-5,
               warmup_epochs=2, max_epochs=3, num_epochs=3,
               epoch_length=250),
    # epoch 0 shorter than the warm-up: the warm-up is cut
    short_epoch=dict(base_lrs=[1e-4], warmup_lr=1e-5, min_lr=1e-5,
                     warmup_epochs=3, max_epochs=3, num_epochs=3,
                     epoch_length=150),
    # warm-up ends exactly on the last iteration of epoch 0
    boundary=dict(base_lrs=[2e-5], warmup_lr=1e-5, min_lr=1e-6,
                  warmup_epochs=2, max_epochs=4, num_epochs=3,
                  epoch_length=201),
    # NLVR/VE style: W=1
    one_step=dict(base_lrs=[2e-5], warmup_lr=1e-5, min_lr=1e-6,
                  warmup_epochs=1, max_epochs=5, num_epochs=3,
                  epoch_length=230),
    # retrieval style: warmup_lr == lr, warm-up is a no-op
    flat_warmup=dict(base_lrs=[1e-5], warmup_lr=1e-5, min_lr=1e-6,
                     warmup_epochs=1, max_epochs=5, num_epochs=3,
                     epoch_length=120),
    no_warmup=dict(base_lrs=[1e-4], warmup_lr=1e-5, min_lr=1e-5,
                   warmup_epochs=0, max_epochs=3, num_epochs=3,
                   epoch_length=50),
    # several groups with their own peaks; training past max_epochs
    groups_past_end=dict(base_lrs=[1e-4, 3e-4], warmup_lr=1e-5,
                         min_lr=1e-6, warmup_epochs=2, max_epochs=3,
                         num_epochs=5, epoch_length=130),
    small_steps=dict(base_lrs=[1e-3], warmup_lr=1e-4, min_lr=1e-5,
                     warmup_epochs=4, max_epochs=6, num_epochs=4,
                     epoch_length=17, step_size=3),
)


@pytest.mark.parametrize('case', list(CASES))
def test_matches_reference(case):
    kwargs = CASES[case]
    expected = reference_lrs(**kwargs)
    actual = scheduler_lrs(**kwargs)
    assert len(actual) == len(expected)
    for it, (a, e) in enumerate(zip(actual, expected)):
        assert a == pytest.approx(e, rel=1e-12, abs=0), f'iteration {it}'


def test_key_values_pretrain():
    lr, warmup_lr, min_lr = 1e-4, 1e-5, 1e-5
    optimizer = _optimizer([lr])
    scheduler = ALBEFStepWarmupCosineLR(
        optimizer, warmup_lr=warmup_lr, min_lr=min_lr, warmup_epochs=20,
        max_epochs=30, epoch_length=5000)
    # iteration 0 already uses warmup_lr, and so does iteration 100
    assert optimizer.param_groups[0]['lr'] == warmup_lr
    assert scheduler.get_last_value() == [warmup_lr]
    assert scheduler.virtual_time(100) == 0
    assert scheduler.virtual_time(101) == 1
    # peak from iteration 2001 to the end of epoch 0
    assert scheduler.virtual_time(2000) == 19
    assert scheduler.virtual_time(2001) == 20
    assert scheduler.virtual_time(4999) == 20
    assert scheduler.virtual_value(20, lr) == pytest.approx(lr)
    # epoch 29 (spec example)
    assert scheduler.virtual_time(29 * 5000) == 49
    assert scheduler.virtual_value(49, lr) == pytest.approx(1.0247e-5,
                                                            rel=1e-4)
    expected = min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(29 * math.pi /
                                                            30))
    assert scheduler.virtual_value(49, lr) == pytest.approx(expected)


def test_build_from_config():
    optimizer = _optimizer([1e-4])
    cfg = dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-5, min_lr=1e-5,
               warmup_epochs=20, max_epochs=30, by_epoch=True,
               convert_to_iter_based=True, end=30)
    scheduler = PARAM_SCHEDULERS.build(
        cfg, default_args=dict(optimizer=optimizer, epoch_length=70))
    assert isinstance(scheduler, ALBEFStepWarmupCosineLR)
    assert not scheduler.by_epoch
    assert scheduler.epoch_length == 70
    assert scheduler.end == 30 * 70
    # an explicit epoch_length overrides the Runner's len(dataloader)
    scheduler = PARAM_SCHEDULERS.build(
        dict(cfg, epoch_length=40),
        default_args=dict(optimizer=_optimizer([1e-4]), epoch_length=70))
    assert scheduler.epoch_length == 40
    assert scheduler.end == 30 * 40


def test_invalid_arguments():
    kwargs = dict(warmup_lr=1e-5, min_lr=1e-5, warmup_epochs=2, max_epochs=3)
    with pytest.raises(ValueError, match='convert_to_iter_based'):
        ALBEFStepWarmupCosineLR(
            _optimizer([1e-4]), epoch_length=10, by_epoch=True, **kwargs)
    with pytest.raises(ValueError, match='epoch_length'):
        ALBEFStepWarmupCosineLR(_optimizer([1e-4]), **kwargs)
    # mmengine drops epoch_length from a config that is not converted
    with pytest.raises(ValueError, match='epoch_length'):
        PARAM_SCHEDULERS.build(
            dict(type='ALBEFStepWarmupCosineLR', by_epoch=False,
                 epoch_length=10, **kwargs),
            default_args=dict(optimizer=_optimizer([1e-4]), epoch_length=10))


def test_state_dict_roundtrip():
    kwargs = dict(warmup_lr=1e-5, min_lr=1e-6, warmup_epochs=2,
                  max_epochs=3, epoch_length=130)
    expected = reference_lrs([1e-4, 2e-4], num_epochs=3, **kwargs)
    optimizer = _optimizer([1e-4, 2e-4])
    scheduler = ALBEFStepWarmupCosineLR(optimizer, **kwargs)
    for _ in range(150):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    assert 'optimizer' not in state
    optim_state = optimizer.state_dict()

    optimizer2 = _optimizer([1e-4, 2e-4])
    scheduler2 = ALBEFStepWarmupCosineLR(optimizer2, **kwargs)
    optimizer2.load_state_dict(optim_state)
    scheduler2.load_state_dict(state)
    assert scheduler2.get_last_value() == pytest.approx(expected[150])
    lrs = []
    for _ in range(150, 3 * 130):
        lrs.append([g['lr'] for g in optimizer2.param_groups])
        optimizer2.step()
        scheduler2.step()
    assert len(lrs) == len(expected) - 150
    for a, e in zip(lrs, expected[150:]):
        assert a == pytest.approx(e, rel=1e-12)


# --------------------------------------------------------------------------
# MMEngine Runner integration
# --------------------------------------------------------------------------

EPOCH_LENGTH = 8  # 16 samples, batch size 2
RUNNER_SCHEDULE = dict(warmup_lr=1e-4, min_lr=1e-5, warmup_epochs=2,
                       max_epochs=4, step_size=3)
BASE_LR = 1e-3


class ToyDataset(Dataset):

    def __len__(self):
        return 2 * EPOCH_LENGTH

    def __getitem__(self, idx):
        return dict(inputs=torch.full((2, ), float(idx) / 16))


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.temp = nn.Parameter(torch.tensor(0.07))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(x) / self.temp
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return out


class LrRecorder(Hook):
    """Records the lr each training iteration runs with."""

    priority = 'VERY_HIGH'

    def __init__(self):
        self.records = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        groups = runner.optim_wrapper.optimizer.param_groups
        self.records.append((runner.iter, [g['lr'] for g in groups]))


class _Interrupt(Exception):
    pass


class InterruptAfterEpoch(Hook):
    """Simulates a crash after the checkpoint of ``epoch`` was written."""

    priority = 'LOWEST'

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            raise _Interrupt


def _make_runner(work_dir, name, max_epochs, hooks, **kwargs):
    # the project's runner: it resumes its checkpoints with weights_only
    # loading (MMEngine's own Runner cannot on torch >= 2.6)
    return ALBEFRunner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=0.02),
            constructor='ALBEFOptimWrapperConstructor'),
        param_scheduler=[
            dict(type='ALBEFStepWarmupCosineLR', by_epoch=True,
                 convert_to_iter_based=True, **RUNNER_SCHEDULE)
        ],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=hooks,
        default_scope='albef_mm',
        randomness=dict(seed=0),
        **kwargs)


def _reference(num_epochs):
    lrs = reference_lrs([BASE_LR], num_epochs=num_epochs,
                        epoch_length=EPOCH_LENGTH, **RUNNER_SCHEDULE)
    return [lr[0] for lr in lrs]


def test_runner_schedule(tmp_path):
    recorder = LrRecorder()
    runner = _make_runner(tmp_path, 'albef_lr_runner', 4, [recorder])
    runner.train()
    iters = [it for it, _ in recorder.records]
    assert iters == list(range(4 * EPOCH_LENGTH))
    # both groups (no-decay and decay) follow the schedule
    for _, lrs in recorder.records:
        assert len(lrs) == 2 and lrs[0] == lrs[1]
    actual = [lrs[0] for _, lrs in recorder.records]
    expected = _reference(4)
    assert actual == pytest.approx(expected, rel=1e-12)
    # sanity: warm-up staircase reaches the peak within epoch 0
    assert actual[0] == RUNNER_SCHEDULE['warmup_lr']
    assert actual[EPOCH_LENGTH - 1] == pytest.approx(BASE_LR)
    scheduler = runner.param_schedulers[0]
    assert scheduler.epoch_length == EPOCH_LENGTH
    assert scheduler.end == 4 * EPOCH_LENGTH


def test_runner_resume(tmp_path):
    num_epochs = 3
    full = LrRecorder()
    _make_runner(tmp_path / 'full', 'albef_lr_full', num_epochs,
                 [full]).train()

    first = LrRecorder()
    runner = _make_runner(tmp_path / 'resume', 'albef_lr_first', num_epochs,
                          [first, InterruptAfterEpoch(1)])
    with pytest.raises(_Interrupt):
        runner.train()
    ckpt = tmp_path / 'resume' / 'epoch_1.pth'
    assert ckpt.is_file()

    second = LrRecorder()
    resumed = _make_runner(tmp_path / 'resume', 'albef_lr_second',
                           num_epochs, [second], load_from=str(ckpt),
                           resume=True)
    resumed.train()
    assert [it for it, _ in second.records] == list(
        range(EPOCH_LENGTH, num_epochs * EPOCH_LENGTH))
    assert first.records + second.records == full.records
    expected = _reference(num_epochs)
    assert [lrs[0] for _, lrs in full.records] == pytest.approx(
        expected, rel=1e-12)
