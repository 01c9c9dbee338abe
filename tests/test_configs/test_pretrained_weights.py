"""One rule for the pre-trained weights of every full-size task config:
the paper's 14M row by default, a ``_4m`` variant where the paper reports
a 4M row (ALBEF Tables 2-4); the grounding row has no 4M counterpart."""
import os.path as osp

import pytest
import yaml
from mmengine.config import Config

from helpers import CONFIG_ROOT

ALBEF_14M = 'checkpoints/ALBEF.pth'
ALBEF_4M = 'checkpoints/ALBEF_4M.pth'

# config -> the file training starts from
START = {
    'retrieval_coco.py': ALBEF_14M,
    'retrieval_coco_4m.py': ALBEF_4M,
    'retrieval_flickr30k.py': ALBEF_14M,
    'retrieval_flickr30k_4m.py': ALBEF_4M,
    'vqa.py': ALBEF_14M,
    'vqa_4m.py': ALBEF_4M,
    'snli_ve.py': ALBEF_14M,
    'snli_ve_4m.py': ALBEF_4M,
    'nlvr2_ta_pretrain.py': ALBEF_14M,
    'nlvr2_ta_pretrain_4m.py': ALBEF_4M,
    # the released text-assignment checkpoint (of the 14M model), or the
    # result of nlvr2_ta_pretrain.py; the 4M one is trained here
    'nlvr2.py': 'checkpoints/pretrain_model_nlvr.pth',
    'nlvr2_4m.py': 'work_dirs/nlvr2_ta_pretrain_4m/epoch_1.pth',
    'grounding_refcoco+.py': ALBEF_14M,
}


def _start(cfg):
    # VQA initialises from a pre-training file through the model (the
    # decoder is built from the fusion layers), the others by load_from
    if cfg.model.get('init_from_pretrain'):
        assert cfg.get('load_from') is None
        return cfg.model.init_from_pretrain
    return cfg.load_from


@pytest.mark.parametrize('name', sorted(START))
def test_task_config_starts_from_the_rule_s_weights(name):
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name))
    assert _start(cfg) == START[name]


def test_every_4m_variant_differs_from_its_14m_config_only_in_weights():
    for name in START:
        if not name.endswith('_4m.py'):
            continue
        small = Config.fromfile(osp.join(CONFIG_ROOT, 'albef', name))
        base = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                        name.replace('_4m.py', '.py')))
        for cfg in (small, base):
            cfg.pop('load_from', None)
            cfg.model.pop('init_from_pretrain', None)
        assert small.to_dict() == base.to_dict(), name


EVALUATION_ONLY = {
    # the COCO 4M result (retrieval_coco_4m.py) on the Flickr30K test split
    'albef_4m_retrieval_flickr30k_zeroshot': 'retrieval_flickr30k_zeroshot.py',
    'albef_4m_linear_probe_dtd': 'linear_probe_dtd.py',
}


def test_metafile_4m_rows_name_the_4m_configs():
    with open(osp.join(CONFIG_ROOT, 'albef', 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    rows = {m['Name']: m for m in models}
    four_m = {name: m['Config'] for name, m in rows.items()
              if name.startswith('albef_4m_')}
    assert four_m, 'no 4M rows in the metafile'
    for name, config in four_m.items():
        if name in EVALUATION_ONLY:
            # evaluated with a given file, nothing trained from load_from
            assert config.endswith(EVALUATION_ONLY[name]), (name, config)
        else:
            assert config.endswith('_4m.py'), (name, config)
            assert osp.isfile(osp.join(osp.dirname(CONFIG_ROOT), config))
