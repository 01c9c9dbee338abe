from .albef_hooks import AlphaWarmupHook, MomentumUpdateHook, QueueUpdateHook
from .skip_report_hook import SkippedSampleReportHook

__all__ = ['AlphaWarmupHook', 'MomentumUpdateHook', 'QueueUpdateHook',
           'SkippedSampleReportHook']
