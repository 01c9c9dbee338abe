from .atomic_checkpoint_hook import AtomicCheckpointHook
from .eval_progress_hook import EvalProgressHook
from .albef_hooks import AlphaWarmupHook, MomentumUpdateHook, QueueUpdateHook
from .random_state_hook import RandomStateHook
from .shard_epoch_hook import ShardEpochHook
from .skip_report_hook import SkippedSampleReportHook

__all__ = ['AlphaWarmupHook', 'AtomicCheckpointHook', 'EvalProgressHook',
           'MomentumUpdateHook', 'QueueUpdateHook', 'RandomStateHook',
           'ShardEpochHook', 'SkippedSampleReportHook']
