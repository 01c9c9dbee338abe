"""The package's floors: every import of a subpackage of ``albef_mm`` goes to
its own floor or one below, so nothing runs back up and there is no cycle.

    4  apis                         inferencers, model zoo
    3  engine                       runners, loops, hooks, strategies
    2  models, evaluation           task models, metrics
    1  datasets, checkpoint         annotation formats, weights I/O
    0  registry, structures, utils, visualization, version
"""
import ast
import os
import os.path as osp

import pytest

import albef_mm

FLOORS = {
    'version': 0, 'registry': 0, 'structures': 0, 'utils': 0,
    'visualization': 0,
    'datasets': 1, 'checkpoint': 1,
    'models': 2, 'evaluation': 2,
    'engine': 3,
    'apis': 4,
}
PACKAGE_DIR = osp.dirname(albef_mm.__file__)


def _imported_modules(path, package):
    """Absolute names of the modules a source file imports (relative
    imports resolved against ``package``, a list of name parts)."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                yield '.'.join(base + ([node.module] if node.module else []))
            elif node.module:
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def subpackage_imports(package_dir=PACKAGE_DIR):
    """``{(importer, imported): [file, ...]}`` between the top-level
    subpackages (or modules) of the package in ``package_dir``."""
    edges = {}
    for folder, _, files in os.walk(package_dir):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = osp.join(folder, name)
            rel = osp.relpath(path, osp.dirname(package_dir))[:-3]
            parts = rel.split(os.sep)
            if len(parts) < 2 or parts[1] == '__init__':
                continue
            source, package = parts[1], parts[:-1]
            for module in _imported_modules(path, package):
                target = module.split('.')
                if target[0] != 'albef_mm' or len(target) < 2:
                    continue
                if target[1] != source:
                    edges.setdefault((source, target[1]), []).append(
                        osp.relpath(path, osp.dirname(package_dir)))
    return edges


def test_every_subpackage_has_a_floor():
    names = {n[:-3] if n.endswith('.py') else n
             for n in os.listdir(PACKAGE_DIR)
             if not n.startswith(('_', '.'))
             and (n.endswith('.py') or osp.isdir(osp.join(PACKAGE_DIR, n)))}
    names.discard('__pycache__')
    assert names <= set(FLOORS), \
        f'subpackages without a floor (add them to FLOORS): ' \
        f'{sorted(names - set(FLOORS))}'


def test_no_import_runs_back_up():
    upward = {f'{a} (floor {FLOORS[a]}) -> {b} (floor {FLOORS[b]}): '
              f'{files}'
              for (a, b), files in subpackage_imports().items()
              if FLOORS.get(b, 0) > FLOORS.get(a, 0)}
    assert not upward, '\n'.join(sorted(upward))


def test_no_cycle_between_subpackages():
    edges = subpackage_imports()
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    cycles = sorted(f'{a} <-> {b}' for a, b in edges
                    if a < b and a in graph.get(b, ()))
    assert not cycles, cycles


def test_the_checker_sees_an_upward_import(tmp_path):
    """A file of a lower floor importing a higher one is reported."""
    pkg = tmp_path / 'albef_mm'
    (pkg / 'datasets').mkdir(parents=True)
    (pkg / 'apis').mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'datasets' / 'x.py').write_text(
        'from albef_mm.apis import model_zoo\nfrom ..registry import X\n')
    (pkg / 'apis' / 'y.py').write_text('from ..datasets import x\n')
    edges = subpackage_imports(str(pkg))
    assert edges == {('datasets', 'apis'): ['albef_mm/datasets/x.py'],
                     ('datasets', 'registry'): ['albef_mm/datasets/x.py'],
                     ('apis', 'datasets'): ['albef_mm/apis/y.py']}


if __name__ == '__main__':
    pytest.main([__file__])
