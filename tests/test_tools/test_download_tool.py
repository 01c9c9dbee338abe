"""tools/download.py against a local server standing in for the authors'
host: data.tar.gz unpacked where the configs read it, once; existing
files left alone; a hostile archive refused; weights by model name."""
import io
import os.path as osp
import tarfile

import pytest
import torch
from local_http import refused_url, serve

from albef_mm.utils import download as dl
from helpers.scripts import load_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RELEASE = '/sfr-pcl-data-research/ALBEF/'


def _tool():
    return load_script('tools', 'download.py')


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:  # a symbolic link
                info.type, info.linkname = tarfile.SYMTYPE, '/etc/passwd'
                tar.addfile(info)
                continue
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


MEMBERS = {
    'data/coco_test.json': b'[1]', 'data/flickr30k_train.json': b'[2]',
    'data/vqa_train.json': b'[3]', 'data/vg_qa.json': b'[4]',
    'data/answer_list.json': b'["yes"]', 'data/nlvr_dev.json': b'[5]',
    'data/ve_test.json': b'[6]', 'data/refcoco+_val.json': b'[7]',
    'data/refcoco+/dets.json': b'[8]', 'data/README.txt': b'notes',
}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / 'cache'))
    with serve() as srv:
        monkeypatch.setenv(dl.MIRROR_ENV, srv.base)
        srv.files[RELEASE + 'data.tar.gz'] = _tar(MEMBERS)
        yield srv, tmp_path / 'data'


def test_data_lands_where_the_configs_read_it(env, capsys):
    srv, root = env
    tool = _tool()
    assert tool.main(['data', '--root', str(root)]) == 0
    expected = {
        'coco/coco_test.json': b'[1]', 'flickr30k/flickr30k_train.json':
        b'[2]', 'vqa/vqa_train.json': b'[3]', 'vqa/vg_qa.json': b'[4]',
        'vqa/answer_list.json': b'["yes"]', 'nlvr2/nlvr_dev.json': b'[5]',
        'snli_ve/ve_test.json': b'[6]', 'refcoco+_val.json': b'[7]',
        'refcoco+/dets.json': b'[8]'}
    for rel, data in expected.items():
        assert (root / rel).read_bytes() == data, rel
    out = capsys.readouterr().out
    assert '9 written, 0 already there, 0 left alone, 1 unused' in out
    assert 'read by no config: data/README.txt' in out
    # the configs' own paths
    for base, rel in (('coco_retrieval.py', 'coco/'),
                      ('vqa.py', 'vqa/'), ('nlvr2.py', 'nlvr2/'),
                      ('snli_ve.py', 'snli_ve/')):
        with open(osp.join(REPO, 'configs', '_base_', 'datasets',
                           base)) as f:
            assert f"data_root = 'data/{rel}'" in f.read(), base
    # again: no download, nothing rewritten; a changed file is left alone
    (root / 'vqa' / 'answer_list.json').write_bytes(b'["mine"]')
    srv.requests.clear()
    assert tool.main(['data', '--root', str(root)]) == 0
    assert srv.requests == []
    assert (root / 'vqa' / 'answer_list.json').read_bytes() == b'["mine"]'
    assert '8 already there, 1 left alone' in capsys.readouterr().out
    assert tool.main(['data', '--root', str(root), '--force']) == 0
    assert (root / 'vqa' / 'answer_list.json').read_bytes() == b'["yes"]'


@pytest.mark.parametrize('member', ['../escape.json', '/abs/coco_x.json',
                                    'data/link.json'])
def test_hostile_archive_is_refused(env, member, capsys):
    srv, root = env
    srv.files[RELEASE + 'data.tar.gz'] = _tar(
        {member: None if 'link' in member else b'x'})
    assert _tool().main(['data', '--root', str(root)]) == 1
    assert repr(member) in capsys.readouterr().err
    assert not osp.exists(root)
    assert not osp.exists(root.parent / 'escape.json')


def test_offline_data_and_weights_name_the_fix(env, monkeypatch, capsys):
    srv, root = env
    monkeypatch.setenv(dl.MIRROR_ENV, refused_url('').rstrip('/'))
    tool = _tool()
    assert tool.main(['data', '--root', str(root)]) == 1
    err = capsys.readouterr().err
    assert 'data.tar.gz' in err and dl.MIRROR_ENV in err
    assert tool.main(['weights', 'albef_vqa']) == 1
    assert 'vqa.pth' in capsys.readouterr().err


def test_weights_by_name_go_to_the_cache(env, capsys):
    srv, _ = env
    buf = io.BytesIO()
    torch.save({'w': torch.zeros(1)}, buf)
    srv.files[RELEASE + 'vqa.pth'] = buf.getvalue()
    assert _tool().main(['weights', 'albef_vqa']) == 0
    path = dl.cache_path('https://storage.googleapis.com' + RELEASE +
                         'vqa.pth')
    assert f'albef_vqa: {path}' in capsys.readouterr().out
    assert osp.isfile(path) and osp.isfile(path + '.sha256')
