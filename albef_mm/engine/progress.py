"""Progress lines with elapsed time and ETA, for evaluation loops and the
command-line tools.

Lines rather than a redrawn bar: evaluation output goes to log files and
several ranks share a terminal, where carriage-return bars garble. A line
is emitted when at least ``interval`` seconds passed since the last one,
and always for the first and the last step::

    retrieval eval: encoding images 120/500 (24%), 0:00:31 elapsed, ETA 0:01:38
"""
import time
from typing import Callable, Optional

from mmengine.logging import print_log


def format_seconds(seconds: float) -> str:
    """``H:MM:SS`` of a non-negative duration."""
    seconds = int(round(max(0.0, seconds)))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


def log_current(line: str) -> None:
    """Emit through MMEngine's current logger."""
    print_log(line, logger='current')


class ETAProgress:
    """Counts steps of a known total and emits progress lines with ETA.

    Args:
        total (int): Number of steps.
        desc (str): Text before the counts.
        interval (float): Least seconds between two lines (the first and
            the last step always emit). Defaults to 10.
        emit (Callable[[str], None], optional): Where lines go (default:
            MMEngine's current logger; tools pass ``print``).
        clock (Callable[[], float]): Time source (tests inject one).
    """

    def __init__(self, total: int, desc: str, interval: float = 10.0,
                 emit: Optional[Callable[[str], None]] = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.desc, self.interval = int(total), desc, interval
        self.emit = emit or log_current
        self.clock = clock
        self.done = 0
        self.start = clock()
        self._last = None

    def line(self) -> str:
        elapsed = self.clock() - self.start
        text = f'{self.desc} {self.done}/{self.total}'
        if self.total > 0:
            text += f' ({100 * self.done // self.total}%)'
        text += f', {format_seconds(elapsed)} elapsed'
        if 0 < self.done < self.total:
            eta = elapsed / self.done * (self.total - self.done)
            text += f', ETA {format_seconds(eta)}'
        elif self.done >= self.total:
            text += ', done'
        return text

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps; emit a line when due."""
        self.done += n
        now = self.clock()
        if self._last is None or self.done >= self.total or \
                now - self._last >= self.interval:
            self._last = now
            self.emit(self.line())
