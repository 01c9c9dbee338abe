"""Installation of albef_mm (``pip install -e .``)."""
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'requirements', name)
    with open(path) as f:
        # a comment may follow a requirement on its line
        lines = [line.split('#', 1)[0].strip() for line in f]
        return [line for line in lines if line]


def read_version():
    scope = {}
    with open(osp.join('albef_mm', 'version.py')) as f:
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
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(tests=read_requirements('tests.txt'),
                        demo=read_requirements('demo.txt'),
                        scale=read_requirements('scale.txt')),
    license='BSD-3-Clause',
)
