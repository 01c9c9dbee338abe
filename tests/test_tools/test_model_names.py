"""tools/test.py and tools/train.py take a registered model name where
they take a config, and a URL or a model name where they take a
checkpoint; a path wins over a name."""
import os
import os.path as osp

import pytest
import torch
from local_http import serve

from albef_mm.apis import get_model
from albef_mm.datasets import generate_shapes
from albef_mm.utils import config_path
from albef_mm.utils import download as dl
from helpers.scripts import load_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VOCAB = {'model.data_preprocessor.tokenizer.name_or_path':
         osp.join(REPO, 'tests', 'data', 'tiny_vocab')}


def _tool(name):
    # tools/test.py imports tools/train.py
    return load_script('tools', f'{name}.py', tools_on_path=True)


def test_config_by_name_and_path_first(tmp_path, monkeypatch, capsys):
    train = _tool('train')
    monkeypatch.chdir(tmp_path)
    cfg = train.load_config('albef_tiny_shapes')
    assert cfg.filename == config_path('albef', 'pretrain_shapes_tiny.py')
    assert 'albef_tiny_shapes: config ' in capsys.readouterr().out
    args = train.parse_args(['albef_tiny_shapes'])
    assert train.apply_common_args(cfg, args).work_dir == osp.join(
        'work_dirs', 'pretrain_shapes_tiny')  # where the zoo looks
    # an existing file of that name is read as the config (here: refused
    # by MMEngine for its missing extension), not the model's
    (tmp_path / 'albef_vqa').write_text("model = dict(type='Mine')\n")
    with pytest.raises(OSError, match='py/yml'):
        train.load_config('albef_vqa')
    with pytest.raises(FileNotFoundError):
        train.load_config('albef_no_such_model')


def test_tools_test_with_names_and_a_url(tmp_path, monkeypatch):
    shapes = str(tmp_path / 'shapes')
    generate_shapes(shapes, num_train=8, num_val=4, num_test=4)
    torch.manual_seed(0)
    model = get_model('albef_tiny_shapes', pretrained=False,
                      cfg_options=VOCAB)
    ckpt = tmp_path / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / 'cache'))
    options = [f'{k}={v}' for k, v in VOCAB.items()] + [
        f'test_dataloader.dataset.data_root={shapes}/',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False']
    test = _tool('test')
    with serve() as srv:
        srv.files['/w/tiny.pth'] = ckpt.read_bytes()
        metrics = test.main(['albef_tiny_shapes', srv.base + '/w/tiny.pth',
                             '--work-dir', str(tmp_path / 'w1'),
                             '--cfg-options'] + options)
        assert srv.requests == [('/w/tiny.pth', None)]
    assert 0 <= metrics['retrieval/r_mean'] <= 100
    # a model name as the checkpoint: its weights (here the local path
    # the zoo names for the Shapes model)
    monkeypatch.chdir(tmp_path)
    os.makedirs('work_dirs/pretrain_shapes_tiny')
    os.link(ckpt, 'work_dirs/pretrain_shapes_tiny/epoch_6.pth')
    again = test.main(['albef_tiny_shapes', 'albef_tiny_shapes',
                       '--work-dir', str(tmp_path / 'w2'),
                       '--cfg-options'] + options)
    assert again == metrics
