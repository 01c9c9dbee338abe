"""Gallery stores: chunked fp16 encoding that resumes after an
interruption, exact and FAISS search, ITM re-ranking as the in-memory
gallery, refusal of another model's store, unreadable and non-image files
named; the tools/gallery.py command."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import torch

from albef_mm.apis.gallery_index import build_index, index_search, load_index
from albef_mm.apis.gallery_store import (StoreMismatchError,
                                         list_gallery_images)
from helpers.retrieval import (shapes_images, shapes_with_vocab,
                               tiny_retrieval_inferencer)
from helpers.tiny import REPO_ROOT
from helpers.scripts import load_script


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('gallery_store'))
    data = shapes_with_vocab(root)
    inf = tiny_retrieval_inferencer(root, data, k=4, batch_size=3)
    return inf, data, root


class Interrupt(Exception):
    pass


def test_store_resumes_without_reencoding_and_matches_memory(setup,
                                                             tmp_path):
    inf, data, _ = setup
    files = shapes_images(data, 12)
    store_dir = str(tmp_path / 'store')
    calls = []
    real = inf._store_features

    def dying(paths):  # killed while encoding the third chunk
        calls.append(list(paths))
        if len(calls) == 3:
            raise Interrupt
        return real(paths)
    inf._store_features = dying
    try:
        with pytest.raises(Interrupt):
            inf.encode_gallery_store(files, store_dir, chunk_size=5)
        calls.clear()
        lines = []
        inf._store_features = lambda p: (calls.append(list(p)), real(p))[1]
        store = inf.encode_gallery_store(files, store_dir, chunk_size=5,
                                         emit=lines.append)
    finally:
        inf._store_features = real
    assert calls == [files[10:]]  # only the chunk not written before
    assert 'resuming, 2 of 3 chunks already encoded' in lines[0]
    assert store.complete and store.chunk(0).dtype == np.float16
    inf.set_image_gallery(files)
    memory = inf.gallery['image_feat']
    stored = np.concatenate([store.chunk(c) for c in range(3)])
    np.testing.assert_allclose(stored, memory.numpy(), atol=2e-3)
    texts = ['a red circle', 'two blue squares']
    expected = inf.text_to_image(texts, topk=3)
    inf.open_gallery_store(store_dir)
    got = inf.text_to_image(texts, topk=3)
    assert [[r['image'] for r in q] for q in got] == \
        [[r['image'] for r in q] for q in expected]
    for q, e in zip(got, expected):
        for a, b in zip(q, e):
            assert abs(a['itm'] - b['itm']) < 1e-5
            assert abs(a['itc'] - b['itc']) < 3e-3  # fp16 features


def test_exact_search_is_the_brute_force_top_k(setup, tmp_path):
    inf, data, _ = setup
    files = shapes_images(data, 12)
    store = inf.encode_gallery_store(files, str(tmp_path / 's'),
                                     chunk_size=4)
    q = torch.nn.functional.normalize(torch.randn(3, store.meta['dim']), 0)
    feats = torch.from_numpy(np.concatenate(
        [store.chunk(c) for c in range(3)]).astype(np.float32))
    scores, rows = store.search(q, 5)
    brute = (q @ feats.t()).topk(5, dim=1)
    assert torch.equal(rows, brute.indices)
    torch.testing.assert_close(scores, brute.values)


def test_another_models_store_is_refused(setup, tmp_path):
    inf, data, root = setup
    store_dir = str(tmp_path / 'store')
    inf.encode_gallery_store(shapes_images(data, 4), store_dir,
                             chunk_size=2)
    other = tiny_retrieval_inferencer(root, data, seed=1, k=4)
    with pytest.raises(StoreMismatchError, match=r'store was encoded by '
                       'another model'):
        other.open_gallery_store(store_dir)
    with pytest.raises(StoreMismatchError, match='another model'):
        other.encode_gallery_store(shapes_images(data, 4), store_dir)
    with pytest.raises(StoreMismatchError, match='another image list'):
        inf.encode_gallery_store(shapes_images(data, 5), store_dir)


def test_unreadable_and_non_image_files_are_named(setup, tmp_path):
    inf, data, _ = setup
    folder = tmp_path / 'photos'
    shutil.copytree(osp.join(data, 'images'), folder)
    (folder / 'notes.txt').write_text('not an image')
    (folder / 'broken.jpg').write_bytes(b'not a jpeg')
    lines = []
    files = list_gallery_images(str(folder), lines.append)
    assert lines == [f'skipped (not an image: .jpg, .jpeg, .png, .bmp, '
                     f'.webp): {folder / "notes.txt"}']
    store = inf.encode_gallery_store(files, str(tmp_path / 's'),
                                     chunk_size=8)
    bad_row = files.index(str(folder / 'broken.jpg'))
    assert list(store.meta['unreadable']) == [str(bad_row)]
    assert 'broken.jpg' in store.meta['unreadable'][str(bad_row)]
    _, rows = store.search(torch.zeros(1, store.meta['dim']), len(files))
    assert rows.size(1) == len(files) - 1 and bad_row not in rows[0]
    build_index(store, 'IVF1,Flat', emit=lambda line: None)  # exact
    _, rows = index_search(store, load_index(store),
                           torch.zeros(1, store.meta['dim']), len(files))
    assert rows.size(1) == len(files) - 1 and bad_row not in rows[0]
    listing = tmp_path / 'list.txt'
    listing.write_text('photos/notes.txt\n')
    with pytest.raises(ValueError, match=r'list\.txt, line 1: '
                       r'photos/notes\.txt is not an image'):
        list_gallery_images(str(listing))


def test_faiss_index_search(setup, tmp_path):
    inf, data, _ = setup
    files = shapes_images(data, 12)
    store_dir = str(tmp_path / 's')
    store = inf.encode_gallery_store(files, store_dir, chunk_size=5)
    with pytest.raises(FileNotFoundError, match='no FAISS index'):
        inf.open_gallery_store(store_dir, search='index')
    assert load_index(store) is None
    build_index(store, 'HNSW8', emit=lambda line: None)
    q = torch.nn.functional.normalize(torch.randn(4, store.meta['dim']), 0)
    exact_s, exact_r = store.search(q, 3)
    s, r = index_search(store, load_index(store), q, 3, {'efSearch': 64})
    assert torch.equal(r, exact_r)  # 12 rows: the graph search is exact
    torch.testing.assert_close(s, exact_s, atol=1e-5, rtol=1e-5)
    # an IVF index is trained on rows of every chunk; probing all its
    # lists is exact
    build_index(store, 'IVF2,Flat', emit=lambda line: None)
    s, r = index_search(store, load_index(store), q, 3, {'nprobe': 2})
    assert torch.equal(r, exact_r)
    inf.open_gallery_store(store_dir, search='index')
    assert inf.store_index is not None
    assert len(inf.text_to_image('a red circle', topk=2)[0]) == 2


def test_gallery_command_survives_a_kill_and_searches(setup, tmp_path):
    inf, data, root = setup
    tool = osp.join(REPO_ROOT, 'tools', 'gallery.py')
    model = [inf.model.cfg.filename, osp.join(root, 'random_0.pth')]
    opts = ['--cfg-options', 'model.data_preprocessor.tokenizer.'
            f'name_or_path={osp.join(data, "vocab.txt")}']
    store_dir = str(tmp_path / 'store')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    encode = [sys.executable, tool, 'encode', *model,
              osp.join(data, 'images'), store_dir, '--chunk-size', '2',
              '--batch-size', '1', '--index', 'HNSW8', *opts]
    proc = subprocess.Popen(encode, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    meta = osp.join(store_dir, 'store.json')
    deadline = time.monotonic() + 300
    done = 0
    while proc.poll() is None and time.monotonic() < deadline and done < 2:
        time.sleep(0.05)
        try:
            with open(meta) as f:
                done = len(json.load(f)['chunks'])
        except (OSError, ValueError):
            pass
    proc.kill()  # SIGKILL: no clean-up runs
    proc.wait()
    with open(meta) as f:
        written = len(json.load(f)['chunks'])
    assert 2 <= written < 10, 'the encoding was not interrupted midway'
    out = subprocess.run(encode, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert f'resuming, {written} of 10 chunks already encoded' in out.stdout
    # the progress counts only the images encoded now
    assert f'encoding gallery images {20 - 2 * written}/' \
        f'{20 - 2 * written}' in out.stdout
    assert osp.isfile(osp.join(store_dir, 'index.faiss'))
    out = subprocess.run([sys.executable, tool, 'search', *model, store_dir,
                          'a red circle', '--topk', '2', *opts],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    hit = json.loads(out.stdout.strip().splitlines()[-1])
    assert hit['text'] == 'a red circle' and len(hit['results']) == 2


def test_web_demo_retrieval_tab_searches_a_store(setup, tmp_path,
                                                  monkeypatch):
    inf, data, _ = setup
    store_dir = str(tmp_path / 'store')
    inf.encode_gallery_store(shapes_images(data, 6), store_dir,
                             chunk_size=4)
    inf.set_image_gallery(shapes_images(data, 2))  # the tab must switch
    monkeypatch.setitem(sys.modules, 'gradio',
                        types.SimpleNamespace(Error=RuntimeError))
    web_demo = load_script('demo', 'web_demo.py')
    gallery, folders, name = web_demo.store_gallery(store_dir)
    assert name == f'all 6 images of the gallery store `{store_dir}`'
    assert folders == [osp.join(data, 'images')]
    slot = web_demo.LazyTask('retrieval', 'cfg', 'ckpt', lambda c, k: inf)
    pics, _ = web_demo.search_images(slot, gallery, 'a red circle', 3)
    assert len(pics) == 3
    assert {p for p, _ in pics} <= set(shapes_images(data, 6))
    assert inf.store is not None and inf.store.root == store_dir
