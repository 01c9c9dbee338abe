from .albef_hooks import AlphaWarmupHook, MomentumUpdateHook, QueueUpdateHook
from .random_state_hook import RandomStateHook
from .skip_report_hook import SkippedSampleReportHook

__all__ = ['AlphaWarmupHook', 'MomentumUpdateHook', 'QueueUpdateHook',
           'RandomStateHook', 'SkippedSampleReportHook']
