"""Retrieval inferencer inputs that gave silent wrong answers (issue 27
item 10): topk <= 0, a saved gallery loaded into another model (saved
galleries carried no fingerprint), a name list shorter than its
features."""
import pytest
import torch

from albef_mm.apis.gallery_store import StoreMismatchError
from helpers.retrieval import (shapes_images, shapes_with_vocab,
                               tiny_retrieval_inferencer)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('gallery_inputs'))
    data = shapes_with_vocab(root)
    inf = tiny_retrieval_inferencer(root, data, k=4)
    inf.set_image_gallery(shapes_images(data, 5))
    inf.set_text_gallery(['a red circle', 'a green cross'])
    return inf, data, root


@pytest.mark.parametrize('topk', [0, -1])
def test_topk_must_be_positive(setup, topk):
    inf, data, _ = setup
    # before: topk 0 gave [] and -1 every result but the last
    with pytest.raises(ValueError, match='topk must be a positive'):
        inf.text_to_image('a red circle', topk=topk)
    with pytest.raises(ValueError, match='topk must be a positive'):
        inf.image_to_text(shapes_images(data, 1), topk=topk)


def test_shortlist_k_must_be_positive(setup):
    _, data, root = setup
    with pytest.raises(ValueError, match='k .* must be positive'):
        tiny_retrieval_inferencer(root, data, k=0)


def test_gallery_saved_by_another_model_is_refused(setup, tmp_path):
    inf, data, root = setup
    path = str(tmp_path / 'gallery.pth')
    inf.save_gallery(path)
    other = tiny_retrieval_inferencer(root, data, seed=1, k=4)
    with pytest.raises(StoreMismatchError, match='saved by another model'):
        other.load_gallery(path)
    inf.load_gallery(path)  # its own model still loads it


def test_gallery_without_fingerprint_is_refused(setup, tmp_path):
    inf, _, _ = setup
    path = str(tmp_path / 'old.pth')
    torch.save({k: v.cpu() if torch.is_tensor(v) else v
                for k, v in inf.gallery.items()}, path)
    with pytest.raises(StoreMismatchError, match='no model fingerprint'):
        inf.load_gallery(path)


@pytest.mark.parametrize('names,key', [('images', 'image_feat'),
                                       ('texts', 'text_embeds')])
def test_name_list_shorter_than_its_features_is_refused(setup, tmp_path,
                                                        names, key):
    inf, _, _ = setup
    path = str(tmp_path / 'short.pth')
    data = {k: v.cpu() if torch.is_tensor(v) else v
            for k, v in inf.gallery.items()}
    data[names] = data[names][:-1]
    data['fingerprint'] = inf.fingerprint
    torch.save(data, path)
    # before: results past the list's end raised IndexError mid-query, or
    # named the wrong item
    with pytest.raises(ValueError, match=rf'short\.pth: \d+ {names} but '
                       rf'\d+ rows of {key.split("_")[0]}'):
        inf.load_gallery(path)
