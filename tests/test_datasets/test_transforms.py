import numpy as np
import pytest
import torch
import torchvision.transforms as T
from mmengine.dataset import Compose
from PIL import Image

from albef_mm.datasets.transforms import (ALBEFRandomFlip,
                                          ALBEFRandomResizedCrop, ALBEFResize,
                                          ImageLoadError, LoadRGBImageFromFile,
                                          PackALBEFInputs)
from albef_mm.registry import TRANSFORMS
from albef_mm.structures.data_sample import DataSample


@pytest.fixture
def rgb():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)


def test_registered():
    for name in ('LoadRGBImageFromFile', 'ALBEFRandomResizedCrop',
                 'ALBEFResize', 'ALBEFRandomFlip', 'RandomAugment',
                 'CleanCaption', 'PackALBEFInputs'):
        assert TRANSFORMS.get(name) is not None, name


def test_load_rgb_order_and_modes(tmp_path):
    img = np.zeros((4, 5, 3), np.uint8)
    img[..., 0] = 255  # pure red
    Image.fromarray(img).save(tmp_path / 'red.png')
    Image.fromarray(img).convert('P').save(tmp_path / 'pal.png')
    Image.fromarray(np.full((4, 5), 9, np.uint8)).save(tmp_path / 'g.png')
    Image.fromarray(np.dstack([img, np.full((4, 5), 7, np.uint8)])).save(
        tmp_path / 'rgba.png')
    load = LoadRGBImageFromFile()
    out = load({'img_path': str(tmp_path / 'red.png')})
    assert out['img'].dtype == np.uint8 and out['img'].shape == (4, 5, 3)
    assert out['img'][0, 0].tolist() == [255, 0, 0]  # RGB, not BGR
    assert out['ori_shape'] == (4, 5) == out['img_shape']
    assert load({'img_path': str(tmp_path / 'pal.png')})['img'][0, 0].tolist(
    ) == [255, 0, 0]
    assert load({'img_path': str(tmp_path / 'g.png')})['img'].shape == (4, 5,
                                                                       3)
    assert load({'img_path': str(tmp_path / 'rgba.png')})['img'].shape[2] == 3
    two = load({'img_path': [str(tmp_path / 'red.png')] * 2})
    assert isinstance(two['img'], list) and len(two['img']) == 2


def test_load_errors_name_file_and_index(tmp_path):
    load = LoadRGBImageFromFile()
    missing = str(tmp_path / 'nope.jpg')
    with pytest.raises(ImageLoadError, match=r'nope\.jpg.*dataset index 7'):
        load({'img_path': missing, 'sample_idx': 7})
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'this is not a jpeg')
    with pytest.raises(ImageLoadError, match=r'bad\.jpg'):
        load({'img_path': str(bad)})


def test_random_resized_crop_matches_torchvision(rgb):
    t = ALBEFRandomResizedCrop(size=24, scale=(0.2, 1.0))
    ref = T.RandomResizedCrop(24, scale=(0.2, 1.0),
                              interpolation=T.InterpolationMode.BICUBIC)
    for seed in range(5):
        torch.manual_seed(seed)
        out = t({'img': rgb})
        torch.manual_seed(seed)
        expected = np.asarray(ref(Image.fromarray(rgb)))
        np.testing.assert_array_equal(out['img'], expected)
        assert out['img_shape'] == (24, 24)


def test_crop_list_and_rect_size(rgb):
    t = ALBEFRandomResizedCrop(size=(16, 20), scale=(0.5, 1.0))
    out = t({'img': [rgb, rgb[:30]]})
    assert [i.shape for i in out['img']] == [(16, 20, 3)] * 2
    assert out['img_shape'] == [(16, 20)] * 2


def test_resize_matches_torchvision(rgb):
    out = ALBEFResize(32)({'img': rgb})
    expected = np.asarray(
        T.Resize((32, 32), interpolation=T.InterpolationMode.BICUBIC)(
            Image.fromarray(rgb)))
    np.testing.assert_array_equal(out['img'], expected)
    assert out['img_shape'] == (32, 32)
    assert out['scale_factor'] == (32 / 60, 32 / 40)


def test_flip_matches_torchvision(rgb):
    t = ALBEFRandomFlip(prob=0.5)
    ref = T.RandomHorizontalFlip(0.5)
    flips = []
    for seed in range(10):
        torch.manual_seed(seed)
        out = t({'img': rgb})
        torch.manual_seed(seed)
        np.testing.assert_array_equal(
            out['img'], np.asarray(ref(Image.fromarray(rgb))))
        flips.append(out['flip'])
    assert True in flips and False in flips
    always = ALBEFRandomFlip(prob=1.0)({'img': [rgb, rgb]})
    np.testing.assert_array_equal(always['img'][1], rgb[:, ::-1])
    assert always['flip'] == [True, True]


def test_pack_single_and_pair(rgb):
    pack = PackALBEFInputs(algorithm_keys=('text', 'gt_label'),
                           meta_keys=('img_path', 'sample_idx'))
    out = pack({'img': rgb, 'text': 'a cat', 'img_path': 'x.jpg',
                'sample_idx': 3, 'other': 1})
    assert set(out) == {'inputs', 'data_samples'}
    x = out['inputs']
    assert x.dtype == torch.uint8 and x.shape == (3, 40, 60)
    assert torch.equal(x, torch.from_numpy(rgb).permute(2, 0, 1))
    s = out['data_samples']
    assert isinstance(s, DataSample)
    assert s.text == 'a cat' and 'gt_label' not in s
    assert s.img_path == 'x.jpg' and s.sample_idx == 3
    pair = pack({'img': [rgb, rgb[::-1].copy()], 'gt_label': 1})
    assert pair['inputs'].shape == (2, 3, 40, 60)
    assert pair['data_samples'].gt_label == 1
    with pytest.raises(ValueError, match='same shape'):
        pack({'img': [rgb, rgb[:10]]})


def test_pipeline_end_to_end(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / 'a.png')
    pipeline = Compose([
        TRANSFORMS.build(c) for c in [
            dict(type='LoadRGBImageFromFile'),
            dict(type='ALBEFRandomResizedCrop', size=32, scale=(0.2, 1.0)),
            dict(type='ALBEFRandomFlip'),
            dict(type='RandomAugment', N=2, M=7),
            dict(type='PackALBEFInputs'),
        ]
    ])
    out = pipeline({'img_path': str(tmp_path / 'a.png'), 'text': 'hi'})
    assert out['inputs'].shape == (3, 32, 32)
    assert out['data_samples'].text == 'hi'
    assert 'flip' in out['data_samples'].metainfo


def test_resize_scale_factor_is_width_then_height():
    img = np.zeros((20, 40, 3), dtype=np.uint8)  # h 20, w 40
    out = ALBEFResize((10, 30))(dict(img=img))  # to h 10, w 30
    assert out['img'].shape == (10, 30, 3)
    assert out['scale_factor'] == (0.75, 0.5)
    pair = ALBEFResize((10, 30))(dict(img=[img, np.zeros((10, 10, 3),
                                                         dtype=np.uint8)]))
    assert pair['scale_factor'] == [(0.75, 0.5), (3.0, 1.0)]
