"""The model-zoo docs stay true to the tree: every config and tool they
name exists, the metafile parses and points at real configs, its paper
numbers match the README's tables, and every registered model and released
weights file is documented."""
import glob
import os.path as osp
import re

import pytest
import yaml

from albef_mm.apis import list_models, model_info
from helpers.tiny import REPO_ROOT

ZOO_README = osp.join('configs', 'albef', 'README.md')
DATA_GUIDE = osp.join('docs', 'custom_data.md')
METAFILE = osp.join('configs', 'albef', 'metafile.yml')
DOCS = (ZOO_README, DATA_GUIDE, METAFILE)

# configs/albef/<name>.py and configs/_base_/<kind>/<name>.py ('+' is part
# of grounding_refcoco+.py); tools/<...>.py and tools/<...>.sh. Real names
# are lower case; upper-case placeholders (configs/albef/CONFIG.py) are not
# paths.
CONFIG_PATH = re.compile(
    r'configs/(?:albef|_base_/[a-z]+)/[a-z0-9_+-]+\.py\b')
TOOL_PATH = re.compile(r'tools/[a-z0-9_/-]+\.(?:py|sh)\b')
# a bare config name in backticks, as the README's tables write them
BARE_CONFIG = re.compile(
    r'`((?:pretrain|retrieval|vqa|nlvr2|snli_ve|grounding|zeroshot|'
    r'linear_probe)[\w+-]*\.py)`')


def _read(path):
    with open(osp.join(REPO_ROOT, path), encoding='utf-8') as f:
        return f.read()


def _metafile():
    return yaml.safe_load(_read(METAFILE))


def test_patterns_catch_the_forms_the_docs_use():
    text = ('`python tools/test.py configs/albef/grounding_refcoco+.py x` '
            'configs/_base_/datasets/pretrain_4m.py '
            'tools/dataset_converters/vqa_to_albef.py tools/dist_train.sh '
            '| `pretrain_14m_fsdp.py` | configs/albef/CONFIG.py')
    assert CONFIG_PATH.findall(text) == [
        'configs/albef/grounding_refcoco+.py',
        'configs/_base_/datasets/pretrain_4m.py']
    assert TOOL_PATH.findall(text) == [
        'tools/test.py', 'tools/dataset_converters/vqa_to_albef.py',
        'tools/dist_train.sh']
    assert BARE_CONFIG.findall(text) == ['pretrain_14m_fsdp.py']


@pytest.mark.parametrize('doc', DOCS)
def test_every_config_and_tool_named_exists(doc):
    text = _read(doc)
    named = set(CONFIG_PATH.findall(text)) | set(TOOL_PATH.findall(text))
    assert named, f'{doc} names no config or tool: the pattern is broken'
    missing = sorted(p for p in named
                     if not osp.isfile(osp.join(REPO_ROOT, p)))
    assert not missing, f'{doc} names files that do not exist: {missing}'


def test_bare_config_names_in_the_zoo_readme_exist():
    names = set(BARE_CONFIG.findall(_read(ZOO_README)))
    assert len(names) >= 20, names
    configs = {osp.basename(p) for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)}
    unknown = sorted(names - configs)
    assert not unknown, f'{ZOO_README} names configs that do not exist: ' \
        f'{unknown}'


def test_metafile_models_point_at_existing_configs():
    meta = _metafile()
    (collection, ) = meta['Collections']
    assert collection['Name'] == 'ALBEF'
    assert collection['Paper']['URL'] == 'https://arxiv.org/abs/2107.07651'
    assert osp.isfile(osp.join(REPO_ROOT, collection['README']))
    names = [m['Name'] for m in meta['Models']]
    assert len(names) == len(set(names)), 'duplicate model names'
    for m in meta['Models']:
        assert m['In Collection'] == 'ALBEF', m['Name']
        assert osp.isfile(osp.join(REPO_ROOT, m['Config'])), m['Config']
        for key in ('Training Data', 'Epochs', 'Batch Size', 'Architecture'):
            assert m['Metadata'].get(key), (m['Name'], key)
        for result in m['Results'] or []:
            assert result['Task'] and result['Dataset'], m['Name']
            assert all(isinstance(v, float) and 0 < v <= 100
                       for v in result['Metrics'].values()), m['Name']


def test_metafile_covers_every_full_size_config():
    configs = {osp.relpath(p, REPO_ROOT) for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', 'albef', '*.py'))
        if 'shapes' not in osp.basename(p)}
    assert len(configs) >= 15, configs
    listed = {m['Config'] for m in _metafile()['Models']}
    assert not sorted(configs - listed), 'configs missing from metafile.yml'


def test_metafile_numbers_are_the_readme_numbers():
    readme = _read(ZOO_README)
    in_readme = {float(x) for x in re.findall(r'\b\d{1,3}\.\d{1,2}\b',
                                              readme)}
    count = 0
    for m in _metafile()['Models']:
        for result in m['Results'] or []:
            for metric, value in result['Metrics'].items():
                assert value in in_readme, (m['Name'], metric, value)
                count += 1
    # 4M + 14M: 3 x 12 retrieval, 2 x (2 VQA + 2 NLVR2 + 2 VE), 2 x 3 grounding
    assert count == 36 + 12 + 6


def test_released_weights_are_the_authors_urls():
    release = 'https://storage.googleapis.com/sfr-pcl-data-research/ALBEF/'
    files = set()
    for m in _metafile()['Models']:
        weights = m.get('Weights')
        if weights is None:
            continue
        if weights.startswith('http'):
            assert weights.startswith(release), m['Name']
            files.add(weights[len(release):])
        else:  # produced locally, by the command named
            assert m['Produced By'].startswith('python tools/train.py '
                                               'configs/albef/'), m['Name']
    # every checkpoint of the ALBEF README's "Download" section
    assert files == {'ALBEF.pth', 'ALBEF_4M.pth', 'mscoco.pth',
                     'flickr30k.pth', 'vqa.pth', 'refcoco.pth',
                     'pretrain_model_nlvr.pth'}


def test_every_registered_model_is_documented():
    readme = _read(ZOO_README)
    names = list_models()
    assert len(names) >= 10
    # the models with weights (released or produced by a command) are
    # named in the zoo README; the others by their config
    with_weights = [n for n in names if model_info(n)['weights']]
    undocumented = [n for n in with_weights if f'`{n}`' not in readme]
    assert not undocumented, f'registered models missing from ' \
        f'{ZOO_README}: {undocumented}'
    for name in names:
        info = model_info(name)
        if info['weights'] and info['weights'].startswith('http'):
            assert osp.basename(info['weights']) in readme, name
        assert osp.basename(info['config']) in readme, name


def test_every_released_file_has_an_evaluation_command():
    readme = _read(ZOO_README)
    for weights in ('mscoco.pth', 'flickr30k.pth', 'vqa.pth',
                    'refcoco.pth'):
        assert re.search(r'python tools/test\.py configs/albef/[\w+-]+\.py '
                         rf'checkpoints/{re.escape(weights)}', readme), weights


def test_zoo_readme_links_the_data_guide():
    readme = _read(ZOO_README)
    assert '(../../docs/custom_data.md)' in readme
    assert osp.isfile(osp.join(REPO_ROOT, 'configs', 'albef', '../../docs',
                               'custom_data.md'))
