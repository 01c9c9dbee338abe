"""The model zoo: one source (the metafile), names resolved by
``get_model`` / ``init_model`` / the inferencers, released weights
downloaded once from a local server standing in for the authors' host
(``ALBEF_MM_MIRROR``), every failure one clear error."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import yaml
from local_http import refused_url, serve

from albef_mm.apis import (ZeroShotClassificationInferencer, get_model,
                           init_model, list_models, model_info)
from albef_mm.utils import config_path
from albef_mm.utils import download as dl

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_VOCAB = osp.join(REPO, 'tests', 'data', 'tiny_vocab')
VOCAB = {'model.data_preprocessor.tokenizer.name_or_path': TINY_VOCAB}
RELEASE_PATH = '/sfr-pcl-data-research/ALBEF/'


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / 'cache'))
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    return tmp_path / 'cache'


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    """The state dict of the tiny Shapes pre-training model, as a file."""
    torch.manual_seed(0)
    model = get_model('albef_tiny_shapes', pretrained=False,
                      cfg_options=VOCAB)
    path = tmp_path_factory.mktemp('zoo') / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


def test_the_metafile_is_the_one_source():
    with open(config_path('albef', 'metafile.yml')) as f:
        meta = yaml.safe_load(f)['Models']
    assert list_models() == sorted(m['Name'] for m in meta)
    for m in meta:
        info = model_info(m['Name'])
        assert info['config'] == config_path(*m['Config'].split('/')[1:])
        assert osp.isfile(info['config'])
        assert info['task'] == m['Task'] and info['weights'] == m['Weights']
        assert info['results'] == (m['Results'] or [])
        assert info['evaluate'].startswith(f'python tools/test.py '
                                           f'{m["Config"]} ')
    assert model_info('albef_vqa')['evaluate'] == \
        'python tools/test.py configs/albef/vqa.py albef_vqa'
    assert model_info('albef_vqa')['results'][0]['Metrics'] == {
        'test-dev': 75.84, 'test-std': 76.04}


def test_list_filters_and_unknown_names():
    names = list_models()
    assert {'albef_14m', 'albef_4m', 'albef_vqa', 'albef_tiny_shapes'} <= \
        set(names)
    assert 'albef_vqa' in list_models(task='vqa')
    assert all(model_info(n)['task'] == 'vqa'
               for n in list_models(task='vqa'))
    assert list_models('*shapes*') == [n for n in names if 'shapes' in n]
    with pytest.raises(KeyError, match='did you mean'):
        model_info('albef_14')


def test_every_registered_model_builds_on_meta():
    for name in list_models():
        model = get_model(name, pretrained=False, device='meta')
        assert next(model.parameters()).device.type == 'meta', name


def test_released_weights_download_once_and_load(cache, tiny_ckpt,
                                                 monkeypatch, capsys):
    with serve() as srv:
        with open(tiny_ckpt, 'rb') as f:
            srv.files[RELEASE_PATH + 'ALBEF.pth'] = f.read()
        monkeypatch.setenv(dl.MIRROR_ENV, srv.base)
        # albef_14m's config shrunk to the tiny checkpoint's sizes
        tiny = init_model(config_path('albef', 'pretrain_shapes_tiny.py'),
                          device='meta', cfg_options=VOCAB).cfg.model
        model = get_model('albef_14m', cfg_options=dict(model=tiny))
        err = capsys.readouterr().err
        assert srv.base + RELEASE_PATH + 'ALBEF.pth' in err
        assert 'B/s' in err  # the progress bar
        entry = dl.cache_path(model_info('albef_14m')['weights'])
        assert osp.isfile(entry) and osp.isfile(entry + '.sha256')
        saved = torch.load(tiny_ckpt)['state_dict']
        torch.testing.assert_close(model.itm_head.fc.weight,
                                   saved['itm_head.fc.weight'])
        srv.requests.clear()
        get_model('albef_14m', cfg_options=dict(model=tiny))
        assert srv.requests == []  # the cache, no download


def test_offline_get_model_names_url_cache_and_variables(cache,
                                                         monkeypatch):
    monkeypatch.setenv(dl.MIRROR_ENV, refused_url('').rstrip('/'))
    with pytest.raises(dl.DownloadError) as err:
        get_model('albef_4m')
    text = str(err.value)
    assert 'ALBEF_4M.pth' in text and 'offline' in text
    assert dl.cache_path(model_info('albef_4m')['weights']) in text
    assert dl.CACHE_ENV in text and dl.MIRROR_ENV in text


def test_models_without_released_weights_say_how_to_get_them(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match='not released: train it '
                       'with `python tools/train.py configs/albef/'
                       'nlvr2_4m.py`'):
        get_model('albef_4m_nlvr2')
    with pytest.raises(FileNotFoundError,
                       match=r'work_dirs/pretrain_shapes_tiny/epoch_6\.pth.*'
                       'python tools/train.py configs/albef/'
                       'pretrain_shapes_tiny.py'):
        get_model('albef_tiny_shapes')


def test_local_weights_are_the_newest_match(tmp_path, monkeypatch):
    from albef_mm.utils.model_index import weights_file
    monkeypatch.chdir(tmp_path)
    run = tmp_path / 'work_dirs' / 'retrieval_shapes_tiny'
    run.mkdir(parents=True)
    old = run / 'best_r_mean_epoch_3.pth'
    new = run / 'best_r_mean_epoch_12.pth'
    for path, mtime in ((old, 1000), (new, 2000)):
        path.write_bytes(b'x')
        os.utime(path, (mtime, mtime))
    # epoch_12 sorts before epoch_3 by name; the newer file wins
    assert osp.samefile(weights_file('albef_tiny_shapes_retrieval'), new)


def test_name_and_checkpoint_path_through_an_inferencer(tiny_ckpt):
    model = get_model('albef_tiny_shapes', checkpoint=tiny_ckpt,
                      cfg_options=VOCAB)
    saved = torch.load(tiny_ckpt)['state_dict']
    torch.testing.assert_close(model.itm_head.fc.weight,
                               saved['itm_head.fc.weight'])
    inf = ZeroShotClassificationInferencer(
        'albef_tiny_shapes_zeroshot', tiny_ckpt, cfg_options=VOCAB)
    torch.testing.assert_close(inf.model.vision_backbone.cls_token,
                               saved['vision_backbone.cls_token'])
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    (result, ) = inf(image, classnames=['red', 'blue'])
    assert result['pred_class'] in ('red', 'blue')
