"""Parity checks of albef_mm models against fixtures recorded with the
original ALBEF code (see ``tools/analysis/albef_parity.py``)."""
from .common import ATOL, RTOL, Check, UnsupportedFixture, compare
from .runner import detect_task, run_fixture

__all__ = ['ATOL', 'RTOL', 'Check', 'UnsupportedFixture', 'compare',
           'detect_task', 'run_fixture']
