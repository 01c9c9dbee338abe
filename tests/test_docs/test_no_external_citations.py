"""The project's docs stand on their own: no docstring, comment, config or
README cites a document a user's clone does not have (the team's spec,
design card, environment notes or the ``shared/`` folder beside the
repository). State the fact itself instead."""
import os
import os.path as osp
import re

from helpers.tiny import REPO_ROOT

SCANNED = ('albef_mm', 'configs', 'tools', 'demo', 'docs', 'README.md',
           'requirements', 'setup.py', 'pyproject.toml', '.ci')
TEXT_EXT = ('.py', '.md', '.txt', '.sh', '.toml', '.cfg', '.yaml', '.yml',
            '.json', '.rst', '')
CITATION = re.compile(
    r'spec §|albef_spec|environment\.md|openmmlab_style|DESIGN\.md|'
    r'\.\./shared|(?<![\w.-])shared/')


def _files():
    for entry in SCANNED:
        path = osp.join(REPO_ROOT, entry)
        if osp.isfile(path):
            yield path
        for root, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if d != '__pycache__']
            for name in names:
                if osp.splitext(name)[1] in TEXT_EXT:
                    yield osp.join(root, name)


def find_citations(text: str):
    """(line number, line) of every citation of an outside document."""
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1)
            if CITATION.search(line)]


def test_pattern_catches_the_known_forms():
    for text in ('see spec §4.1', '``environment.md`` §8',
                 'python x.py ../shared/oracle/a.pth', '(``shared/oracle``)',
                 'albef_spec.md', 'see DESIGN.md'):
        assert find_citations(text), text
    for text in ('shared_memory/ok', 'a shared / split layer',
                 'tests/data/oracle/pretrain.pth', 'the dataset is shared'):
        assert not find_citations(text), text


def test_no_citation_of_documents_outside_the_repository():
    found = []
    for path in _files():
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except UnicodeDecodeError:
            continue
        found += [f'{osp.relpath(path, REPO_ROOT)}:{i}: {line}'
                  for i, line in find_citations(text)]
    assert not found, ('cite the fact, not a document users lack:\n' +
                       '\n'.join(found))
