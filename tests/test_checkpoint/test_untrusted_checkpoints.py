"""A crafted pickle through every loading entry point and URL scheme the
project or MMEngine accepts: local paths, ``http(s)://``,
``torchvision://`` / ``modelzoo://``, ``open-mmlab://`` (URL and
MMEngine-home names), ``mmcls://``, MMEngine's own ``load_checkpoint`` and
``init_cfg=Pretrained``, resume through a work dir's ``last_checkpoint``,
tools/test.py and tools/train.py --resume, the inferencers, the demos, the
converter and the retrieval gallery. Each is refused before any code in
the file runs; a refused download is not left in the cache; schemes
MMEngine reads with full unpickling and no safe route (``pavi://``,
``s3://``) are refused by name."""
import os
import os.path as osp
import sys

import pytest
import torch
from local_http import serve
from mmengine.config import Config
from mmengine.runner import checkpoint as mm_ckpt
from test_safe_loading import RunsSystem, save_evil
from test_trust_entry_points import _tool

from albef_mm.apis import ZeroShotClassificationInferencer
from albef_mm.checkpoint import UntrustedCheckpointError, load_any
from albef_mm.checkpoint.sources import UnsupportedCheckpointSource
from albef_mm.datasets import generate_shapes
from albef_mm.registry import RUNNERS
from albef_mm.utils import config_path
from albef_mm.utils import download as dl

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools')
TINY_VOCAB = osp.join(REPO, 'tests', 'data', 'tiny_vocab')
PRETRAIN = config_path('albef', 'pretrain_shapes_tiny.py')
ZEROSHOT = config_path('albef', 'zeroshot_shapes_tiny.py')
VOCAB = {'model.data_preprocessor.tokenizer.name_or_path': TINY_VOCAB}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A cache folder, a local server holding crafted files, MMEngine's
    name tables pointing at it, and the marker unpickling would write."""
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / 'cache'))
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    marker = tmp_path / 'written_by_unpickling'
    evil = save_evil(tmp_path / 'evil.pth', marker)
    system = tmp_path / 'system.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)},
                'payload': RunsSystem(marker)}, system)
    home = tmp_path / 'mmengine_home'
    os.makedirs(home)
    with open(evil, 'rb') as f:
        data = f.read()
    with open(home / 'evil_local.pth', 'wb') as f:
        f.write(data)
    with serve() as srv:
        srv.files['/a/evil.pth'] = data
        with open(system, 'rb') as f:
            srv.files['/b/evil.pth'] = f.read()
        url = srv.base + '/a/evil.pth'
        monkeypatch.setattr(mm_ckpt, 'get_torchvision_models',
                            lambda: {'resnet18': url})
        monkeypatch.setattr(mm_ckpt, 'get_external_models',
                            lambda: {'evil_url': url,
                                     'evil_local': 'evil_local.pth'})
        monkeypatch.setattr(mm_ckpt, 'get_mmcls_models',
                            lambda: {'evil': url})
        monkeypatch.setattr(mm_ckpt, '_get_mmengine_home', lambda: str(home))
        yield dict(srv=srv, marker=marker, path=evil, url=url,
                   system=str(system), cache=tmp_path / 'cache')


NAMES = ('PATH', 'URL', 'URL_B', 'torchvision://resnet18',
         'modelzoo://resnet18', 'open-mmlab://evil_url',
         'openmmlab://evil_url', 'open-mmlab://evil_local', 'mmcls://evil',
         'SYSTEM')


def _spec(env, name):
    return {'PATH': env['path'], 'URL': env['url'],
            'URL_B': env['srv'].base + '/b/evil.pth',
            'SYSTEM': env['system']}.get(name, name)


def _cached_files(env):
    return [f for _, _, files in os.walk(env['cache']) for f in files
            if not f.endswith('.lock')]


@pytest.mark.parametrize('name', NAMES)
def test_every_scheme_is_refused_without_side_effect(env, name):
    spec = _spec(env, name)
    with pytest.raises(UntrustedCheckpointError, match='--trust-checkpoint'):
        load_any(spec)
    # MMEngine's own entry points read through the same safe loader
    with pytest.raises(UntrustedCheckpointError):
        mm_ckpt._load_checkpoint(spec)
    with pytest.raises(UntrustedCheckpointError):
        mm_ckpt.load_checkpoint(torch.nn.Linear(2, 2), spec)
    assert not env['marker'].exists()
    assert _cached_files(env) == []  # refused downloads are removed


def test_two_urls_with_one_file_name_do_not_share_the_cache(env):
    good = env['srv'].base + '/good/evil.pth'  # same file name as /a/
    torch.save({'state_dict': {'w': torch.ones(2)}}, env['cache'].parent /
               'good.pth')
    with open(env['cache'].parent / 'good.pth', 'rb') as f:
        env['srv'].files['/good/evil.pth'] = f.read()
    assert torch.equal(load_any(good)['state_dict']['w'], torch.ones(2))
    with pytest.raises(UntrustedCheckpointError):
        load_any(env['url'])
    assert torch.equal(load_any(good)['state_dict']['w'], torch.ones(2))
    assert not env['marker'].exists()


def test_unsafe_only_schemes_are_refused_by_name(env):
    for spec in ('pavi://model/evil.pth', 's3://bucket/evil.pth',
                 'petrel://bucket/evil.pth', 'abc:s3://bucket/evil.pth'):
        with pytest.raises(UnsupportedCheckpointSource,
                           match='full unpickling'):
            load_any(spec)
        with pytest.raises(UnsupportedCheckpointSource):
            mm_ckpt._load_checkpoint(spec)


def test_pretrained_init_cfg_reads_safely(env):
    from mmengine.model import BaseModule

    class Net(BaseModule):
        def __init__(self):
            super().__init__(init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet18'))
            self.w = torch.nn.Linear(2, 2)

    with pytest.raises(UntrustedCheckpointError):
        Net().init_weights()
    assert not env['marker'].exists()


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes') / 'shapes')
    generate_shapes(root, num_train=16, num_val=4, num_test=4)
    return root


def _options(shapes):
    return dict(VOCAB, **{
        'train_dataloader.dataset.data_root': shapes + '/',
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.batch_size': 8,
        'model.itc_head.queue_size': 16,
        'test_dataloader.dataset.data_root': shapes + '/',
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
    })


def test_resume_through_last_checkpoint_is_refused(env, shapes, tmp_path):
    for spec in (env['path'], env['url'], 'torchvision://resnet18'):
        work = tmp_path / f'work{len(os.listdir(tmp_path))}'
        os.makedirs(work)
        (work / 'last_checkpoint').write_text(spec)
        cfg = Config.fromfile(PRETRAIN)
        cfg.merge_from_dict(dict(_options(shapes), work_dir=str(work),
                                 resume=True))
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        runner = RUNNERS.build(cfg)
        with pytest.raises(UntrustedCheckpointError):
            runner.load_or_resume()
        assert not env['marker'].exists(), spec


def test_tools_refuse_every_scheme(env, shapes, tmp_path):
    options = [f'{k}={v}' for k, v in _options(shapes).items()]
    test_tool = _tool('albef_tools_test', osp.join(TOOLS, 'test.py'))
    for spec in (env['url'], 'torchvision://resnet18',
                 'open-mmlab://evil_local'):
        with pytest.raises(UntrustedCheckpointError):
            test_tool.main([PRETRAIN, spec, '--work-dir',
                            str(tmp_path / 't'), '--cfg-options'] + options)
    train_tool = _tool('albef_tools_train', osp.join(TOOLS, 'train.py'))
    with pytest.raises(UntrustedCheckpointError):
        train_tool.main([PRETRAIN, '--resume', 'modelzoo://resnet18',
                         '--work-dir', str(tmp_path / 'r'), '--no-validate',
                         '--cfg-options'] + options)
    converter = _tool('albef_to_mm', osp.join(TOOLS, 'model_converters',
                                              'albef_to_mm.py'))
    assert converter.main([env['url'], str(tmp_path / 'out.pth')]) == 3
    assert not (tmp_path / 'out.pth').exists()
    assert not env['marker'].exists()


def test_inferencers_demos_and_gallery_refuse(env, tmp_path):
    for spec in (env['path'], env['url'], 'torchvision://resnet18'):
        with pytest.raises(UntrustedCheckpointError):
            ZeroShotClassificationInferencer(ZEROSHOT, spec,
                                             cfg_options=VOCAB)
    sys.path.insert(0, osp.join(REPO, 'demo'))
    try:
        import grounding_demo
        import retrieval_demo
    finally:
        sys.path.remove(osp.join(REPO, 'demo'))
    with pytest.raises(UntrustedCheckpointError):
        retrieval_demo.build(
            config_path('albef', 'retrieval_shapes_tiny.py'), env['url'],
            'cpu', [f'{k}={v}' for k, v in VOCAB.items()])
    with pytest.raises(UntrustedCheckpointError):
        grounding_demo.build(
            config_path('albef', 'grounding_shapes_tiny.py'), env['path'],
            'cpu', [f'{k}={v}' for k, v in VOCAB.items()])
    from albef_mm.apis import ImageTextRetrievalInferencer
    inf = ImageTextRetrievalInferencer(
        config_path('albef', 'retrieval_shapes_tiny.py'), cfg_options=VOCAB)
    with pytest.raises(Exception, match='(?i)weights.only|unsupported|'
                       'allow'):
        inf.load_gallery(env['path'])
    assert not env['marker'].exists()
