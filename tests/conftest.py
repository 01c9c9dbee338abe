"""Shared test settings: offline, and the reference fixtures."""
import os
import sys
import os.path as osp

import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')

# Outputs of the original ALBEF code on tiny models, shipped with the repo.
ORACLE = osp.join(osp.dirname(osp.abspath(__file__)), 'data', 'oracle')


def oracle_fixture(name: str) -> str:
    """Path of a reference fixture in ``tests/data/oracle``; fails (never
    skips) when it is missing, since the files are part of the repository."""
    path = osp.join(ORACLE, name)
    if not osp.isfile(path):
        pytest.fail(f'{path} is missing: the reference fixtures are part of '
                    'the repository (tests/data/oracle, see its README.md).')
    return path


# The parity checks are a tool (tools/analysis/parity), importable in tests.
TOOLS_ANALYSIS = osp.abspath(osp.join(osp.dirname(__file__), '..', 'tools',
                                      'analysis'))
if TOOLS_ANALYSIS not in sys.path:
    sys.path.insert(0, TOOLS_ANALYSIS)
