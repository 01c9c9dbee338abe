"""Catalogue: command-line tools and demos given careless arguments.

The converter and the grounding demo refuse (before computing anything)
an output that is one of their inputs, a folder, a link or an existing
file without ``--overwrite``; the web demo picks the checkpoint a run
wrote, whatever else lies in the work dir.
"""
import os

import numpy as np
import pytest
import torch
from conftest import oracle_fixture
from helpers.scripts import load_script
from PIL import Image


def _tool(*parts):
    return load_script(*parts, name=parts[-1][:-3])


# ------------------------------------------------------------ converter
@pytest.fixture(scope='module')
def converter():
    return _tool('tools', 'model_converters', 'albef_to_mm.py')


@pytest.fixture
def original(tmp_path):
    src = tmp_path / 'albef.pth'
    torch.save({'model': torch.load(oracle_fixture('pretrain.pth'))['model']},
               src)
    return src


def test_converter_refuses_dst_equal_to_src(converter, original, capsys):
    before = original.read_bytes()
    assert converter.main([str(original), str(original)]) == 4
    assert 'DST ' + str(original) + ' is SRC: refusing to replace the ' \
        'original checkpoint' in capsys.readouterr().err
    assert original.read_bytes() == before


def test_converter_dst_folder_is_a_clear_error(converter, original, capsys,
                                              tmp_path):
    (tmp_path / 'out').mkdir()
    assert converter.main([str(original), str(tmp_path / 'out')]) == 4
    assert f'DST {tmp_path / "out"} is a folder; give a file name, e.g. ' \
        f'{tmp_path / "out" / "converted.pth"}' in capsys.readouterr().err


def test_converter_existing_or_linked_dst_needs_care(converter, original,
                                                    capsys, tmp_path):
    mine = tmp_path / 'notes.pth'
    mine.write_text('mine')
    assert converter.main([str(original), str(mine)]) == 4
    assert 'exists; pass --overwrite to replace it' in \
        capsys.readouterr().err
    link = tmp_path / 'link.pth'
    os.symlink(mine, link)
    assert converter.main([str(original), str(link), '--overwrite']) == 4
    assert 'is a symbolic link; refusing to write through it' in \
        capsys.readouterr().err
    assert mine.read_text() == 'mine'
    assert converter.main([str(original), str(mine), '--overwrite']) == 0
    assert 'state_dict' in torch.load(mine)


@pytest.mark.parametrize('layer', ['99', '-1'])
def test_converter_fusion_layer_outside_the_encoder(converter, original,
                                                    capsys, tmp_path, layer):
    dst = tmp_path / 'mm.pth'
    assert converter.main([str(original), str(dst), '--fusion-layer',
                           layer]) == 4
    assert f'--fusion-layer {layer} is not a layer of the text encoder ' \
        '(0..' in capsys.readouterr().err
    assert not dst.exists()


# -------------------------------------------------------- grounding demo
@pytest.fixture
def grounding_demo(monkeypatch):
    """The demo with the model replaced by a fixed answer: these cases are
    about which files it writes, not about Grad-CAM."""
    demo = _tool('demo', 'grounding_demo.py')

    def ground(inferencer, image_path, expression, proposals=None):
        return dict(image=np.zeros((8, 8, 3), np.uint8),
                    heatmap=np.ones((2, 2)), text=expression,
                    token_maps=None, words=None, box=None)

    monkeypatch.setattr(demo, 'build', lambda *a, **k: object())
    monkeypatch.setattr(demo, 'ground', ground)
    return demo


def _images(folder, names):
    folder.mkdir(exist_ok=True)
    for name in names:
        Image.new('RGB', (4, 4), (10, 20, 30)).save(folder / name)
    return {n: (folder / n).read_bytes() for n in names}


def test_grounding_demo_out_in_the_input_folder_is_refused(
        grounding_demo, tmp_path):
    images = tmp_path / 'images'
    before = _images(images, ['a.png', 'b.jpg'])
    with pytest.raises(FileExistsError, match=r'a\.png is an input of this '
                       r'run; refusing to replace it'):
        grounding_demo.main([str(images), 'the dog', '--config', 'c.py',
                             '--checkpoint', 'c.pth', '--out', str(images)])
    assert {n: (images / n).read_bytes() for n in before} == before
    assert sorted(os.listdir(images)) == ['a.png', 'b.jpg']


def test_grounding_demo_same_stem_gets_two_figures(grounding_demo,
                                                   tmp_path):
    _images(tmp_path / 'images', ['x.jpg', 'x.png', 'y.png'])
    out = tmp_path / 'figs'
    written = grounding_demo.main([str(tmp_path / 'images'), 'a dog',
                                   '--config', 'c.py', '--checkpoint',
                                   'c.pth', '--out', str(out)])
    assert sorted(os.listdir(out)) == ['x_jpg.png', 'x_png.png', 'y.png']
    assert len(written) == 3
    with pytest.raises(FileExistsError, match=r'x_jpg\.png exists; pass '
                       r'--overwrite to replace it'):  # a second run
        grounding_demo.main([str(tmp_path / 'images'), 'a dog', '--config',
                             'c.py', '--checkpoint', 'c.pth', '--out',
                             str(out)])


# ------------------------------------------------------------- web demo
def test_web_demo_picks_epoch_n_files_only(tmp_path):
    web_demo = _tool('demo', 'web_demo.py')
    for name in ('epoch_final.pth', 'epoch_10_backup1.pth', 'epoch_20.pth',
                 'epoch_3.pth'):
        (tmp_path / name).write_bytes(b'')
    # used to die on int('') for epoch_final and rank backup1 as 101
    assert web_demo.find_checkpoint(str(tmp_path)) == str(
        tmp_path / 'epoch_20.pth')
    (tmp_path / 'epoch_20.pth').unlink()
    (tmp_path / 'epoch_3.pth').unlink()
    assert web_demo.find_checkpoint(str(tmp_path)) is None
