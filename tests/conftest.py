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


# The bad-input catalogue (tests/test_robustness) reports its size at the
# end of a run that collected it: "bad-input catalogue: N cases (...)".
# A case is one collected test there (each parametrised variant counts).
CATALOGUE = osp.join(osp.dirname(osp.abspath(__file__)), 'test_robustness')
_catalogue_cases = set()
_catalogue_outcomes = {}


def pytest_itemcollected(item):
    if osp.abspath(str(item.path)).startswith(CATALOGUE + osp.sep):
        _catalogue_cases.add(item.nodeid)


def pytest_runtest_logreport(report):
    if report.nodeid in _catalogue_cases and (
            report.when == 'call' or report.outcome != 'passed'):
        _catalogue_outcomes[report.outcome] = \
            _catalogue_outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter):
    if _catalogue_cases:
        done = ', '.join(f'{n} {k}' for k, n in
                         sorted(_catalogue_outcomes.items()))
        terminalreporter.write_line(
            f'bad-input catalogue: {len(_catalogue_cases)} cases '
            f'({done or "none run"})')
