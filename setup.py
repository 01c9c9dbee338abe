"""Installation of albef_mm: ``pip install -e .`` from a clone (training),
or a wheel (``pip wheel --no-deps .``) for inference and fine-tuning from
a model name.

A wheel carries the config files as ``albef_mm/.mim/configs`` (where
mmpretrain and ``mim`` keep them), copied from the top-level ``configs/``
at build time; ``albef_mm.utils.config_root()`` finds them there, and the
top-level folder in a clone or an editable install.
"""
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))


class BuildWithConfigs(build_py):
    """``build_py`` that also copies ``configs/`` into the built package
    (not into the source tree: a clone keeps one copy of its configs)."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return  # the package is the clone's: it finds ../configs
        target = osp.join(self.build_lib, 'albef_mm', '.mim', 'configs')
        if osp.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(osp.join(HERE, 'configs'), target,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


def read_requirements(name):
    path = osp.join(HERE, 'requirements', name)
    with open(path) as f:
        # a comment may follow a requirement on its line
        lines = [line.split('#', 1)[0].strip() for line in f]
        return [line for line in lines if line]


def read_version():
    scope = {}
    with open(osp.join(HERE, 'albef_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='albef_mm',
    version=read_version(),
    description='ALBEF (Align before Fuse) vision-language models on '
    'MMEngine',
    long_description=open('README.md').read() if osp.exists('README.md')
    else '',
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    include_package_data=True,
    cmdclass=dict(build_py=BuildWithConfigs),
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(tests=read_requirements('tests.txt'),
                        demo=read_requirements('demo.txt'),
                        scale=read_requirements('scale.txt')),
    license='BSD-3-Clause',
)
