"""RandomAugment ops against independent re-derivations of their formulas."""
import math

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from albef_mm.datasets.transforms import ALL_OPS, RandomAugment
from albef_mm.datasets.transforms import randaugment as ra

GREY = 128


@pytest.fixture
def img():
    rng = np.random.default_rng(0)
    # values 10..245 so AutoContrast has something to stretch
    return rng.integers(10, 246, size=(24, 32, 3), dtype=np.uint8)


def bilinear_affine(img, m, fill=GREY):
    """Float bilinear warp: dst(p) = src(M^-1 p), outside -> fill."""
    h, w = img.shape[:2]
    a = np.vstack([m, [0, 0, 1]]).astype(np.float64)
    inv = np.linalg.inv(a)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    pad = np.pad(img.astype(np.float64), ((1, 1), (1, 1), (0, 0)),
                 constant_values=fill)
    sx, sy = sx + 1, sy + 1
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    out = np.full(img.shape, float(fill))
    ok = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < w + 2) & (y0 + 1 < h + 2)
    x0c, y0c = np.clip(x0, 0, w), np.clip(y0, 0, h)
    val = (pad[y0c, x0c] * (1 - fx) * (1 - fy) +
           pad[y0c, x0c + 1] * fx * (1 - fy) +
           pad[y0c + 1, x0c] * (1 - fx) * fy +
           pad[y0c + 1, x0c + 1] * fx * fy)
    out[ok] = val[ok]
    return out


def test_level_7_magnitudes():
    np.random.seed(0)
    assert ra._enhance_args(7) == pytest.approx((1.36, ))
    mags = [abs(ra._shear_args(7)[0]) for _ in range(20)]
    assert mags == pytest.approx([0.21] * 20)
    signs = {math.copysign(1, ra._translate_args(7)[0]) for _ in range(50)}
    assert signs == {1.0, -1.0}
    assert {abs(ra._translate_args(7)[0]) for _ in range(5)} == {7.0}
    assert [abs(ra._rotate_args(7)[0]) for _ in range(5)] == pytest.approx(
        [21.0] * 5)
    assert ra._shear_args(7)[1] == (128, 128, 128)


def test_identity(img):
    assert ra.identity(img) is img


def test_brightness_136(img):
    expected = np.minimum(
        np.floor(img.astype(np.float32) * np.float32(1.36)), 255)
    out = ra.brightness(img, 1.36)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


def test_sharpness_136(img):
    h, w = img.shape[:2]
    f = img.astype(np.float64)
    pad = np.pad(f, ((1, 1), (1, 1), (0, 0)), mode='reflect')
    blur = sum(pad[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] *
               (5 if dx == dy == 0 else 1)
               for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 13
    blur = np.floor(blur + 0.5)  # never a tie: k/13 is never x.5
    expected = img.copy()
    inner = blur[1:-1, 1:-1].astype(np.float32)
    mixed = inner + np.float32(1.36) * (
        img[1:-1, 1:-1].astype(np.float32) - inner)
    # the original casts float -> uint8 without clipping: trunc, mod 256
    expected[1:-1, 1:-1] = np.mod(np.trunc(mixed), 256).astype(np.uint8)
    np.testing.assert_array_equal(ra.sharpness(img, 1.36), expected)
    np.testing.assert_array_equal(ra.sharpness(img, 1.0), img)


def test_sharpness_wraps_like_numpy_cast():
    # a bright spot on black: 255 + 1.36 * (255 - 98) overflows
    img = np.zeros((5, 5, 3), np.uint8)
    img[2, 2] = 255
    out = ra.sharpness(img, 1.36)
    raw = np.float32(98) + np.float32(1.36) * np.float32(255 - 98)
    assert int(out[2, 2, 0]) == int(raw) % 256


@pytest.mark.parametrize('legacy', [True, False])
def test_auto_contrast(img, legacy):
    img = img.copy()
    img[0, 0, 1] = 0  # green channel reaches 0; red/blue start above 0
    out = ra.auto_contrast(img, legacy=legacy)
    for c in range(3):
        ch = img[..., c].astype(np.float64)
        lo, hi = ch.min(), ch.max()
        scale = 255.0 / (hi - lo)
        stretched = np.clip(ch * scale - lo * scale, 0, 255)
        if legacy and lo > 0:
            # the original computes -low on a np.uint8 -> 256 - low
            expected = np.full(ch.shape, 255.0)
        else:
            expected = stretched
        np.testing.assert_array_equal(out[..., c], np.floor(expected))


def test_auto_contrast_flat_channel_unchanged():
    img = np.full((4, 4, 3), 77, np.uint8)
    np.testing.assert_array_equal(ra.auto_contrast(img), img)


def test_equalize_matches_pil(img):
    expected = np.asarray(ImageOps.equalize(Image.fromarray(img)))
    np.testing.assert_array_equal(ra.equalize(img), expected)


@pytest.mark.parametrize('offset', [7.0, -7.0])
def test_translate_x_7px(img, offset):
    out = ra.translate_x(img, offset)
    expected = np.full_like(img, GREY)
    if offset > 0:  # content moves left
        expected[:, :-7] = img[:, 7:]
    else:
        expected[:, 7:] = img[:, :-7]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize('offset', [7.0, -7.0])
def test_translate_y_7px(img, offset):
    out = ra.translate_y(img, offset)
    expected = np.full_like(img, GREY)
    if offset > 0:  # content moves up
        expected[:-7] = img[7:]
    else:
        expected[7:] = img[:-7]
    np.testing.assert_array_equal(out, expected)


@pytest.fixture
def smooth():
    ys, xs = np.mgrid[0:24, 0:32].astype(np.float64)
    chans = [128 + 100 * np.sin(xs / 5 + k) * np.cos(ys / 6 - k)
             for k in range(3)]
    return np.stack(chans, -1).round().astype(np.uint8)


def _check_warp(out, img, m):
    # cv2's bilinear uses 1/32-pixel fixed-point weights: compare with the
    # float formula up to that quantisation, away from the image border
    ref = bilinear_affine(img, m)
    diff = np.abs(out.astype(np.float64) - ref)[2:-2, 2:-2]
    assert diff.max() <= 2 and diff.mean() < 0.5
    # and exactly with the original's call on the same matrix
    h, w = img.shape[:2]
    exact = cv2.warpAffine(img, np.float32(m), (w, h),
                           borderValue=(GREY, ) * 3, flags=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(out, exact)


@pytest.mark.parametrize('factor', [0.21, -0.21])
def test_shear(smooth, factor):
    img = smooth
    _check_warp(ra.shear_x(img, factor), img, [[1, factor, 0], [0, 1, 0]])
    _check_warp(ra.shear_y(img, factor), img, [[1, 0, 0], [factor, 1, 0]])


@pytest.mark.parametrize('degree', [21.0, -21.0])
def test_rotate(smooth, degree):
    img = smooth
    h, w = img.shape[:2]
    cx, cy = w / 2, h / 2
    a = math.radians(degree)
    c, s = math.cos(a), math.sin(a)
    # counter-clockwise rotation about the centre (image y axis points down)
    m = [[c, s, (1 - c) * cx - s * cy], [-s, c, s * cx + (1 - c) * cy]]
    _check_warp(ra.rotate(img, degree), img, m)


def _replay(img, seed, augs, n=2, m=7, legacy=True):
    """Re-derive RandomAugment's draws: choice, then apply? then sign."""
    np.random.seed(seed)
    ops = np.random.choice(augs, n)
    for name in ops:
        if np.random.random() > 0.5:
            continue
        if name in ('ShearX', 'ShearY', 'TranslateX', 'TranslateY'):
            mag = {'ShearX': 0.3, 'ShearY': 0.3}.get(name, 10.0) * m / 10
            mag = -mag if np.random.random() > 0.5 else mag
            img = ra.OP_FUNCS[name](img, mag)
        elif name == 'Rotate':
            mag = 30.0 * m / 10
            mag = -mag if np.random.random() < 0.5 else mag
            img = ra.rotate(img, mag)
        elif name in ('Brightness', 'Sharpness'):
            img = ra.OP_FUNCS[name](img, m / 10 * 1.8 + 0.1)
        elif name == 'AutoContrast':
            img = ra.auto_contrast(img, legacy)
        else:
            img = ra.OP_FUNCS[name](img)
    return img


@pytest.mark.parametrize('seed', range(12))
def test_random_augment_draw_order(img, seed):
    t = RandomAugment(2, 7, augs=ALL_OPS)
    np.random.seed(seed)
    out = t({'img': img})['img']
    np.testing.assert_array_equal(out, _replay(img, seed, list(ALL_OPS)))


def test_random_augment_deterministic_under_seed(img):
    t = RandomAugment()
    outs = []
    for _ in range(2):
        np.random.seed(123)
        outs.append([t({'img': img})['img'] for _ in range(5)])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    # and it does something for some draw
    assert any(not np.array_equal(o, img) for o in outs[0])


def test_random_augment_list_and_errors(img):
    t = RandomAugment(augs=['Identity'])
    out = t({'img': [img, img]})['img']
    assert len(out) == 2 and all(o is img for o in out)
    with pytest.raises(ValueError, match='unknown ops'):
        RandomAugment(augs=['Color'])
    with pytest.raises(TypeError, match='uint8'):
        t({'img': img.astype(np.float32)})


GEOMETRY = ['Identity', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY',
            'Rotate']


def test_geometry_ops_never_change_colours():
    colour = np.array([200, 30, 30], np.float64)
    img = np.zeros((64, 64, 3), np.uint8)
    img[:] = colour.astype(np.uint8)
    t = RandomAugment(N=2, M=7, augs=GEOMETRY, prob=1.0)
    grey = np.full(3, 128.0)
    for seed in range(20):
        np.random.seed(seed)
        out = t({'img': img})['img'].reshape(-1, 3).astype(np.float64)
        # every pixel is a blend of the colour and the grey fill
        t_ = (out[:, 0] - grey[0]) / (colour[0] - grey[0])
        recon = grey + t_[:, None] * (colour - grey)
        # (two successive warps round twice: allow 3 grey levels)
        assert np.abs(out - recon).max() <= 3
        # and the centre (never reached by the fill) is untouched
        centre = out.reshape(64, 64, 3)[26:38, 26:38]
        assert (centre == colour).all()


def test_identity_only_moves_nothing(img):
    t = RandomAugment(N=3, augs=['Identity'], prob=1.0)
    np.testing.assert_array_equal(t({'img': img})['img'], img)


def test_random_augment_defaults_two_ops_at_magnitude_seven():
    """Defaults N=2, M=7: two Brightness ops with factor 7/10*1.8+0.1 =
    1.36 each (values truncated): 100 -> 136 -> 184."""
    aug = RandomAugment(augs=['Brightness'], prob=1.0)
    img = np.full((4, 4, 3), 100, dtype=np.uint8)
    assert (aug.augment(img) == 184).all()
