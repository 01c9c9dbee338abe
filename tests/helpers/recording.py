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
