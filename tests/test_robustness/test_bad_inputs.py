"""The bad-input catalogue: what each kind of broken input does, exactly.

Every case feeds one realistic defect to the real component and asserts
the behaviour: an error that names the file / record / key and the fix,
or a documented conversion, or a counted skip where the config opts in.
"""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from albef_mm.datasets.transforms.loading import (ImageLoadError,
                                                  load_rgb_image)
from albef_mm.registry import DATASETS, MODELS
from helpers import CONFIG_ROOT, tiny_pretrain_model_cfg
from helpers.scripts import load_script

TINY_VOCAB = osp.join(osp.dirname(__file__), '..', 'data', 'tiny_vocab')


@pytest.fixture
def root(tmp_path):
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(tmp_path / 'ok.jpg')
    return tmp_path


def _dataset(root, typ, records, pipeline=(), **kwargs):
    path = root / 'ann.json'
    path.write_text(json.dumps(records))
    return DATASETS.build(dict(type=typ, ann_file=str(path),
                               data_root=str(root), pipeline=list(pipeline),
                               **kwargs))


# ---------------------------------------------------------------- images
def test_corrupt_image_names_the_file(root):
    (root / 'bad.jpg').write_bytes(b'not an image at all')
    with pytest.raises(ImageLoadError, match=r'Cannot decode image .*bad\.jpg'
                       r' \(dataset index 7\).*skip_bad_samples=True'):
        load_rgb_image(str(root / 'bad.jpg'), 7)


def test_zero_byte_image_names_the_file(root):
    (root / 'empty.jpg').write_bytes(b'')
    with pytest.raises(ImageLoadError, match=r'Cannot decode image .*empty'):
        load_rgb_image(str(root / 'empty.jpg'))


def test_missing_image_names_the_file_and_the_fix(root):
    with pytest.raises(ImageLoadError, match=r'Image file not found: .*nope'
                       r'\.jpg.*data_root'):
        load_rgb_image(str(root / 'nope.jpg'))


def test_truncated_jpeg_loads_as_the_original(root):
    img = np.random.RandomState(0).randint(0, 255, (64, 64, 3), np.uint8)
    Image.fromarray(img).save(root / 'full.jpg', quality=95)
    data = (root / 'full.jpg').read_bytes()
    (root / 'cut.jpg').write_bytes(data[:len(data) // 2])
    out = load_rgb_image(str(root / 'cut.jpg'))  # LOAD_TRUNCATED_IMAGES
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    # the setting is scoped to the read: PIL's global stays as it was
    from PIL import ImageFile
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize('mode,pixel,expected', [
    ('L', 77, (77, 77, 77)),                 # grayscale
    ('CMYK', (0, 255, 255, 0), (255, 0, 0)),  # CMYK red
    ('RGBA', (10, 20, 30, 0), (10, 20, 30)),  # alpha dropped
])
def test_other_colour_modes_become_rgb(root, mode, pixel, expected):
    path = root / f'img_{mode}.{"jpg" if mode == "CMYK" else "png"}'
    Image.new(mode, (4, 4), pixel).save(path)
    out = load_rgb_image(str(path))
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert np.abs(out[0, 0].astype(int) - expected).max() <= 2


def test_16bit_png_is_converted_as_pil_does(root):
    Image.fromarray(np.full((4, 4), 40000, np.uint16)).save(root / 'd.png')
    out = load_rgb_image(str(root / 'd.png'))
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    assert (out == 255).all()  # PIL clips 16-bit values to 255, as ALBEF


def test_image_above_pils_own_limit_is_refused_naming_it(root, monkeypatch):
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 100)  # a small limit
    Image.new('RGB', (50, 50)).save(root / 'big.png')  # 2500 px > 2 * 100
    with pytest.raises(ImageLoadError, match=r'Image .*big\.png is above '
                       r"PIL's own limit of 200 pixels"):
        load_rgb_image(str(root / 'big.png'))
    assert Image.MAX_IMAGE_PIXELS == 100  # PIL's setting is left alone


def test_missing_image_is_a_counted_skip_when_opted_in(root):
    ds = _dataset(root, 'PretrainCaptionDataset',
                  [{'image': 'gone.jpg', 'caption': 'a cat'},
                   {'image': 'ok.jpg', 'caption': 'a dog'}],
                  pipeline=[dict(type='LoadRGBImageFromFile')],
                  skip_bad_samples=True)
    assert ds.prepare_data(0) is None and ds.num_skipped == 1
    assert ds.prepare_data(1)['img'].shape == (8, 8, 3)


# ----------------------------------------------------------- annotations
@pytest.mark.parametrize('typ,records,error,pattern', [
    ('PretrainCaptionDataset', {'image': 'ok.jpg'}, ValueError,
     r'ann\.json must hold a json list of records, got dict'),
    ('PretrainCaptionDataset', [{'image': 'ok.jpg'}], KeyError,
     r'ann\.json, record 0: missing key "caption"'),
    ('PretrainCaptionDataset', [{'image': 'ok.jpg', 'caption': 5}],
     ValueError, r'record 0: "caption" must be a string or a list of '
     r'strings, got int'),
    ('PretrainCaptionDataset', [{'image': 'ok.jpg', 'caption': 'ok'},
                                {'image': 'ok.jpg', 'caption': ''}],
     ValueError, r'record 1: caption \'\' is empty once cleaned'),
    ('PretrainCaptionDataset', [{'image': 'ok.jpg', 'caption': '!!! ?'}],
     ValueError, r'record 0: caption .* is empty once cleaned'),
    ('NLVR2Dataset', [{'images': ['ok.jpg'], 'sentence': 'x',
                       'label': 'True'}], ValueError,
     r'record 0: "images" must be a list of two image paths'),
    ('NLVR2Dataset', [{'images': ['ok.jpg', 'ok.jpg'], 'sentence': 'x',
                       'label': 'Maybe'}], ValueError,
     r'label must be "True" or "False", got \'Maybe\''),
    ('SNLIVEDataset', [{'image': 'ok', 'sentence': 'x', 'label': 'maybe'}],
     ValueError, r"label 'maybe' is not one of \['contradiction', "
     r"'entailment', 'neutral'\]"),
    ('VQADataset', [{'image': 'ok.jpg', 'question': 'what?',
                     'answer': ['a'], 'dataset': 'coco'}], ValueError,
     r'"dataset" must be "vqa" or "vg", got \'coco\''),
])
def test_malformed_annotations_name_file_record_and_key(
        root, typ, records, error, pattern):
    with pytest.raises(error, match=pattern):
        _dataset(root, typ, records)


def test_annotation_file_that_is_not_json(root):
    (root / 'ann.json').write_text('{"image": "ok.jpg",')
    with pytest.raises(ValueError, match=r'ann\.json is not valid json'):
        DATASETS.build(dict(type='PretrainCaptionDataset',
                            ann_file=str(root / 'ann.json'), pipeline=[]))


def test_empty_captions_are_dropped_and_counted_when_opted_in(root, caplog):
    ds = _dataset(root, 'PretrainCaptionDataset',
                  [{'image': 'ok.jpg', 'caption': ['a cat', '...']},
                   {'image': 'ok.jpg', 'caption': '?!'},
                   {'image': 'ok.jpg', 'caption': 'a dog'}],
                  skip_bad_samples=True)
    assert len(ds) == 2
    assert ds.get_data_info(0)['text'] == ['a cat']


def test_emoji_and_overlong_texts_tokenise_as_the_original():
    from albef_mm.models.tokenizer import ALBEFTokenizer
    tok = ALBEFTokenizer(TINY_VOCAB)
    ids = tok(['🙂 🙂'], padding='longest')['input_ids'][0].tolist()
    assert ids[0] == 101 and set(ids[1:]) == {tok.unk_token_id}
    long = ' '.join(['a'] * 500)
    out = tok([long], padding='longest', truncation=True, max_length=25)
    assert out['input_ids'].shape == (1, 25)  # [CLS] + 24 word-pieces


# ------------------------------------------------------------ grounding
def test_proposals_outside_the_image_are_clipped():
    from albef_mm.evaluation.metrics.grounding import score_proposals
    heat = torch.zeros(10, 10)
    heat[0:3, 0:3] = 1
    # a box reaching past the top-left corner scores its visible part
    scores = score_proposals(heat, [[-5, -5, 8, 8], [20, 20, 5, 5],
                                    [0, 0, 0, 4]])
    assert scores[0] == pytest.approx(9 / 8)
    assert scores[1] == 0.0  # entirely outside: nothing to sum
    assert np.isnan(scores[2])  # zero width: never selected


# ----------------------------------------------------------- checkpoints
def test_checkpoint_of_another_task_names_the_likely_cause(tmp_path):
    from albef_mm.checkpoint import load_checkpoint_to_model
    model = MODELS.build(tiny_pretrain_model_cfg())
    state = dict(model.state_dict())
    state['cls_head.0.weight'] = torch.zeros(64, 64)
    state.pop('mlm_head.predictions.bias')
    with pytest.raises(KeyError) as err:
        load_checkpoint_to_model(model, state, strict=True)
    msg = str(err.value)
    assert 'Likely cause: checkpoint of another task: a classification ' \
        'model' in msg
    assert 'mlm_head (1): predictions.bias' in msg
    assert err.value.report.unexpected == ['cls_head.0.weight']


def test_truncated_checkpoint(tmp_path):
    from albef_mm.checkpoint import load_any
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(Exception, match=r'ckpt\.pth'):
        load_any(str(path))


def test_load_from_a_directory(tmp_path):
    from albef_mm.checkpoint import load_any
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    with pytest.raises(Exception, match=r'directory.*epoch_1\.pth'):
        load_any(str(tmp_path))


# ---------------------------------------------------------------- configs
def test_unknown_top_level_key_is_flagged_with_the_close_match(capsys):
    tool = load_script('tools', 'train.py', name='train_tool')
    cfg = Config(dict(train_dataloder=dict(), model=dict()))
    tool.warn_unknown_keys(cfg)
    out = capsys.readouterr()
    assert "train_dataloder" in out.out + out.err
    assert "train_dataloader" in out.out + out.err


def test_misspelt_registry_type_lists_close_matches():
    from albef_mm.engine.config_check import check_config_types
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'albef',
                                   'retrieval_shapes_tiny.py'))
    cfg.val_evaluator.type = 'RetrievalRecal'
    with pytest.raises(KeyError, match=r"val_evaluator\.type='Retrieval"
                       r"Recal' is not registered; did you mean "
                       r"\['RetrievalRecall'"):
        check_config_types(cfg)
