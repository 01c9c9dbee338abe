"""docs/reproduce.md stays true to the tree: every config, tool and doc it
names exists, and each row's data files and weights are the ones its config
reads (the data themselves are not available offline)."""
import os.path as osp
import re

import pytest
from mmengine.config import Config

from helpers.tiny import REPO_ROOT

DOC = osp.join('docs', 'reproduce.md')
CONFIG_PATH = re.compile(r'configs/albef/[a-z0-9_+-]+\.py\b')
TOOL_PATH = re.compile(r'tools/[a-z0-9_/-]+\.(?:py|sh)\b')
DOC_LINK = re.compile(r'\]\(([a-z_]+\.md)(?:#[a-z-]+)?\)')
ROW_CONFIG = re.compile(r'^\| [^|]+ \| `(configs/albef/[^`]+\.py)` \|')

# every config behind a number of the paper's tables (and DTD)
PAPER_CONFIGS = {
    'retrieval_coco.py', 'retrieval_coco_4m.py', 'retrieval_flickr30k.py',
    'retrieval_flickr30k_4m.py', 'retrieval_flickr30k_zeroshot.py',
    'vqa.py', 'vqa_4m.py', 'nlvr2_ta_pretrain.py', 'nlvr2_ta_pretrain_4m.py',
    'nlvr2.py', 'nlvr2_4m.py', 'snli_ve.py', 'snli_ve_4m.py',
    'grounding_refcoco+.py', 'zeroshot_dtd.py'}


def _text():
    with open(osp.join(REPO_ROOT, DOC), encoding='utf-8') as f:
        return f.read()


def _rows():
    """(config path, the row's cells) of the main table."""
    rows = []
    for line in _text().splitlines():
        m = ROW_CONFIG.match(line)
        if m:
            rows.append((m.group(1), [c.strip() for c in
                                      line.strip('|').split('|')]))
    return rows


def test_every_config_tool_and_doc_named_exists():
    text = _text()
    named = set(CONFIG_PATH.findall(text)) | set(TOOL_PATH.findall(text))
    assert len(named) > 15, named
    named |= {osp.join('docs', d) for d in DOC_LINK.findall(text)}
    missing = sorted(p for p in named
                     if not osp.isfile(osp.join(REPO_ROOT, p)))
    assert not missing, f'{DOC} names files that do not exist: {missing}'


def test_every_paper_config_has_a_row():
    configs = {osp.basename(c) for c, _ in _rows()}
    assert PAPER_CONFIGS <= configs, sorted(PAPER_CONFIGS - configs)


def _data_files(cfg):
    files = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not loader:
            continue
        dataset = loader['dataset']
        ann = dataset.get('ann_file')
        if ann is None:
            continue
        for name in [ann] if isinstance(ann, str) else ann:
            files.append(dataset['data_root'] + name)
    return files


@pytest.mark.parametrize('config, cells', _rows(), ids=lambda x: str(x)[:40])
def test_row_names_its_config_s_data_and_weights(config, cells):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    data, weights, command = cells[2], cells[3], cells[4]
    if 'as the 14M' not in data:
        for path in _data_files(cfg):
            assert f'`{path}`' in data, (config, path)
    start = cfg.get('load_from') or cfg.model.get('init_from_pretrain')
    if start:
        assert f'`{start}`' in weights, (config, start)
    assert config in command, (config, command)


def test_the_4m_rows_share_the_14m_rows_data():
    rows = dict(_rows())
    for config, cells in rows.items():
        if 'as the 14M' not in cells[2]:
            continue
        base = config.replace('_4m.py', '.py')
        if base == config:  # the 4M zero-shot row: the same config
            assert config.endswith('retrieval_flickr30k_zeroshot.py')
            continue
        assert base in rows, config
        small = Config.fromfile(osp.join(REPO_ROOT, config))
        large = Config.fromfile(osp.join(REPO_ROOT, base))
        assert _data_files(small) == _data_files(large)
