"""Catalogue: images that cost too much or are not what the model reads.

A small file that claims a huge size is refused from its header (before
anything is decoded), the limit is configurable, no read changes a PIL
setting of the process (threads included), and an array handed to an
inferencer must be an RGB uint8 image with pixels.
"""
import struct
import threading
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from albef_mm.datasets.transforms.loading import (DEFAULT_MAX_PIXELS,
                                                  ImageLoadError,
                                                  LoadRGBImageFromFile,
                                                  load_rgb_image)


def _png_header(path, width, height):
    """A valid PNG header claiming ``width x height`` with no pixel data:
    a few hundred bytes, as a decompression bomb would be."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack(
            '>I', zlib.crc32(kind + data) & 0xffffffff)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(
        b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
        + chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))
    return str(path)


def _ok(tmp_path, name='ok.png', size=(8, 6)):
    Image.fromarray(np.full((size[1], size[0], 3), 90, np.uint8)).save(
        tmp_path / name)
    return str(tmp_path / name)


def test_default_pixel_limit_refuses_a_bomb_from_its_header(tmp_path):
    path = _png_header(tmp_path / 'bomb.png', 9000, 9000)  # 81 M pixels
    with pytest.raises(ImageLoadError, match=r'Image .*bomb\.png \(dataset '
                       r'index 3\) is 9000 x 9000 pixels, above the limit of '
                       rf'{DEFAULT_MAX_PIXELS} pixels .*`max_pixels`'):
        load_rgb_image(path, 3)


def test_bomb_above_pils_hard_limit_is_refused_as_well(tmp_path):
    path = _png_header(tmp_path / 'huge.png', 30000, 30000)
    with pytest.raises(ImageLoadError, match=r"huge\.png is above PIL's own "
                       r'limit of \d+ pixels'):
        load_rgb_image(path, max_pixels=None)


def test_pixel_limit_is_configurable_in_the_transform(tmp_path):
    path = _ok(tmp_path)  # 8 x 6 = 48 pixels
    with pytest.raises(ImageLoadError, match=r'ok\.png \(dataset index 0\) '
                       r'is 8 x 6 pixels, above the limit of 47 pixels'):
        LoadRGBImageFromFile(max_pixels=47)(dict(img_path=path,
                                                 sample_idx=0))
    out = LoadRGBImageFromFile(max_pixels=48)(dict(img_path=path))
    assert out['img'].shape == (6, 8, 3)
    with pytest.raises(ValueError, match=r'max_pixels must be a positive '
                       r'integer or None, got 0'):
        LoadRGBImageFromFile(max_pixels=0)


def test_a_read_changes_no_pil_setting(tmp_path, monkeypatch):
    seen = []
    real_open = Image.open

    def spy(*args, **kwargs):
        seen.append((Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES))
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Image, 'open', spy)
    load_rgb_image(_ok(tmp_path))
    # ALBEF (and this loader before) lifted both for every read
    assert seen == [(Image.MAX_IMAGE_PIXELS, False)]
    assert Image.MAX_IMAGE_PIXELS is not None


def test_concurrent_reads_leave_pil_settings_as_they_were(tmp_path):
    img = np.random.RandomState(0).randint(0, 255, (48, 48, 3), np.uint8)
    Image.fromarray(img).save(tmp_path / 'full.jpg', quality=95)
    data = (tmp_path / 'full.jpg').read_bytes()
    (tmp_path / 'cut.jpg').write_bytes(data[:len(data) // 2])
    paths = [str(tmp_path / 'cut.jpg'), _ok(tmp_path)]
    before = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    shapes, errors = [], []

    def work(n):
        try:
            for i in range(40):
                shapes.append(load_rgb_image(paths[(i + n) % 2]).shape)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n, )) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(set(shapes)) == [(6, 8, 3), (48, 48, 3)]
    assert len(shapes) == 160
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before


@pytest.mark.parametrize('array,pattern', [
    (np.random.rand(8, 8, 3), r'image 0: expected dtype uint8 \(0-255\), '
     r'got float64; convert it first'),
    (np.full((8, 8, 3), 200, np.int64), r'image 0: expected dtype uint8 '
     r'\(0-255\), got int64'),
    (np.zeros((0, 0, 3), np.uint8), r'image 0: the image has no pixels '
     r'\(shape \(0, 0, 3\)\)'),
    (np.zeros((8, 8), np.uint8), r'image 0: expected an RGB uint8 H x W x 3'
     r' array, got shape \(8, 8\)'),
])
def test_inferencer_arrays_must_be_rgb_uint8_with_pixels(array, pattern):
    from albef_mm.apis.feature_extractor import FeatureExtractor
    extractor = FeatureExtractor.__new__(FeatureExtractor)  # input checks
    with pytest.raises(ValueError, match=pattern):
        extractor._images([array])
