"""README's two set-up commands are exactly what CI runs."""
import os.path as osp
import re

from helpers.tiny import REPO_ROOT


def _read(*parts):
    with open(osp.join(REPO_ROOT, *parts)) as f:
        return f.read()


def test_ci_runs_the_readme_commands_verbatim():
    readme = _read('README.md')
    section = readme.split('## Get started', 1)[1].split('\n## ', 1)[0]
    commands = re.findall(r'```bash\n(.+?)\n```', section)
    assert len(commands) == 2, commands
    ci = _read('.ci', 'run').splitlines()
    ci_commands = [ci[i + 1] for i, line in enumerate(ci)
                   if line.startswith('# ci-command-')]
    assert ci_commands == commands


def test_readme_lists_the_configs_it_mentions():
    readme = _read('README.md')
    for path in re.findall(r'configs/albef/[a-z0-9_]+\.py', readme):
        assert osp.isfile(osp.join(REPO_ROOT, path)), path
