"""The config finder: the wheel's packaged copy first, else the clone's
``configs/``, and a clear error when neither exists."""
import os
import os.path as osp

import pytest

import albef_mm
from albef_mm.utils import config_finder as finder
from albef_mm.utils import config_path, config_root

REPO = osp.dirname(osp.dirname(osp.abspath(albef_mm.__file__)))


def _tree(root):
    os.makedirs(osp.join(root, 'albef'))
    open(osp.join(root, 'albef', 'metafile.yml'), 'w').close()
    return root


def test_clone_uses_the_top_level_configs():
    assert config_root() == osp.join(REPO, 'configs')
    assert osp.isfile(config_path('albef', 'pretrain_shapes_tiny.py'))


def test_packaged_copy_comes_first(tmp_path, monkeypatch):
    pkg = tmp_path / 'site' / 'albef_mm'
    packaged = _tree(str(pkg / '.mim' / 'configs'))
    _tree(str(tmp_path / 'site' / 'configs'))  # another package's folder
    monkeypatch.setattr(finder, '_PACKAGE_DIR', str(pkg))
    assert config_root() == packaged


def test_unrelated_configs_folder_is_not_taken(tmp_path, monkeypatch):
    pkg = tmp_path / 'site' / 'albef_mm'
    os.makedirs(pkg)
    os.makedirs(tmp_path / 'site' / 'configs')  # no albef/metafile.yml
    monkeypatch.setattr(finder, '_PACKAGE_DIR', str(pkg))
    with pytest.raises(FileNotFoundError) as err:
        config_root()
    assert osp.join(str(pkg), '.mim', 'configs') in str(err.value)
    assert osp.join(str(tmp_path), 'site', 'configs') in str(err.value)
