"""A stand-in for a runner's logger that records what a hook logs."""
import logging


class RecordingLogger:
    """Collects ``(level, message)`` pairs in ``records``."""

    def __init__(self):
        self.records = []

    def info(self, msg):
        self.records.append((logging.INFO, msg))

    def warning(self, msg):
        self.records.append((logging.WARNING, msg))

    def log(self, level, msg):
        self.records.append((level, msg))


class LogCollector(logging.Handler):
    """A handler that keeps every record a real logger emits."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def validate_with_logs(cfg, evaluations=1):
    """Build a runner from ``cfg`` for validation only (its train and test
    parts dropped), run ``runner.val()`` ``evaluations`` times and return
    ``(metrics of the first run, records the runner's logger emitted)``."""
    from albef_mm.registry import RUNNERS
    cfg.train_dataloader = cfg.train_cfg = cfg.optim_wrapper = None
    cfg.param_scheduler = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    runner = RUNNERS.build(cfg)
    collect = LogCollector()
    runner.logger.addHandler(collect)
    try:
        metrics = runner.val()
        for _ in range(evaluations - 1):
            runner.val()
    finally:
        runner.logger.removeHandler(collect)
    return runner, metrics, collect.records
