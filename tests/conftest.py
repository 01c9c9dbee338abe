"""Shared test settings: offline, and the location of ../shared."""
import os
import sys
import os.path as osp

import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')

SHARED = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', 'shared'))
ORACLE = osp.join(SHARED, 'oracle', 'fixtures')


def oracle_fixture(name: str) -> str:
    """Path of an oracle fixture; skips where ../shared is absent (a user's
    clone) but fails in CI, where it must be present."""
    path = osp.join(ORACLE, name)
    if not osp.isfile(path):
        if os.environ.get('CI'):
            pytest.fail(f'{path} is missing in CI: the oracle fixtures must '
                        'be checked')
        pytest.skip(f'{path} not found: the oracle fixtures live in the '
                    "team's shared/ folder beside the repository")
    return path

# The parity checks are a tool (tools/analysis/parity), importable in tests.
TOOLS_ANALYSIS = osp.abspath(osp.join(osp.dirname(__file__), '..', 'tools',
                                      'analysis'))
if TOOLS_ANALYSIS not in sys.path:
    sys.path.insert(0, TOOLS_ANALYSIS)
