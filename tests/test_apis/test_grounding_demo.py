"""The grounding visualiser (demo/grounding_demo.py) and the
VisualGroundingInferencer with the committed tiny Shapes grounding model:
the PNGs are written, and the heat maps peak inside the referred objects of
unseen Shapes scenes."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from albef_mm.apis import VisualGroundingInferencer
from albef_mm.datasets import generate_shapes
from helpers.tiny import CONFIG_ROOT, REPO_ROOT
from albef_mm.visualization import peak_location
from helpers.scripts import load_script

CFG = osp.join(CONFIG_ROOT, 'albef', 'grounding_shapes_tiny.py')
CKPT = osp.join(REPO_ROOT, 'tests', 'data', 'grounding',
                'grounding_shapes_tiny.pth')


def _demo():
    return load_script('demo', 'grounding_demo.py')


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    """Unseen scenes (another seed than data/shapes) with expressions,
    ground-truth boxes and proposals."""
    root = str(tmp_path_factory.mktemp('shapes_unseen') / 'shapes')
    generate_shapes(root, num_train=2, num_val=2, num_test=48, seed=7)
    refs = json.load(open(osp.join(root, 'refs.json')))
    dets = json.load(open(osp.join(root, 'dets.json')))
    items = []
    for rec in json.load(open(osp.join(root, 'grounding_test.json'))):
        ref = refs[str(rec['ref_id'])]
        items.append(dict(image=osp.join(root, rec['image']),
                          text=rec['text'], gt=ref['bbox'],
                          proposals=dets[str(ref['image_id'])]))
    return root, items


def _opts(root):
    return [f'model.data_preprocessor.tokenizer.name_or_path='
            f'{osp.join(root, "vocab.txt")}']


def _inside(xy, box, margin=1):
    x, y = xy
    return (box[0] - margin <= x < box[0] + box[2] + margin
            and box[1] - margin <= y < box[1] + box[3] + margin)


def test_heatmaps_peak_inside_the_referred_object(scenes):
    root, items = scenes
    demo = _demo()
    inferencer = demo.build(CFG, CKPT, options=_opts(root))
    results = inferencer([i['image'] for i in items],
                         [i['text'] for i in items],
                         [i['proposals'] for i in items])
    peaks = [_inside(peak_location(r['heatmap'], 64, 64), i['gt'])
             for r, i in zip(results, items)]
    hits = [r['box'] == [float(v) for v in i['gt']]
            for r, i in zip(results, items)]
    # chance: the referred object covers ~5% of the image; a random one of
    # the ~4.5 proposals is right ~22% of the time. The committed model
    # reaches 0.45 / 0.43 here (48 / 53 % on the Shapes val / test splits).
    assert len(items) >= 50
    assert np.mean(peaks) >= 0.35, np.mean(peaks)
    assert np.mean(hits) >= 0.35, np.mean(hits)
    words = results[0]['words']
    assert words == results[0]['text'].split()  # whole-word Shapes vocab
    assert results[0]['token_maps'].shape == (len(words), 8, 8)


def test_demo_writes_the_figure(scenes, tmp_path):
    root, items = scenes
    demo = _demo()
    # the first item whose heat map peaks inside its object
    inferencer = demo.build(CFG, CKPT, options=_opts(root))
    item = next(i for i in items if _inside(peak_location(
        inferencer(i['image'], i['text'])[0]['heatmap'], 64, 64), i['gt']))
    props = tmp_path / 'props.json'
    props.write_text(json.dumps(item['proposals']))
    out = tmp_path / 'one.png'
    written = demo.main([item['image'], item['text'], '--config', CFG,
                         '--checkpoint', CKPT, '--out', str(out),
                         '--proposals', str(props), '--cfg-options',
                         *_opts(root)])
    assert written == [str(out)]
    png = Image.open(out)
    assert png.format == 'PNG'
    # image + expression map + one panel per word, side by side
    n_panels = 2 + len(item['text'].split())
    assert png.size[0] >= 200 * n_panels and png.size[1] >= 200
    # batch mode over a json list: one figure per record
    listing = tmp_path / 'items.json'
    listing.write_text(json.dumps([
        dict(image=osp.relpath(i['image'], tmp_path), text=i['text'],
             proposals=i['proposals']) for i in items[:3]]))
    written = demo.main([str(listing), '--config', CFG, '--checkpoint', CKPT,
                         '--out', str(tmp_path / 'batch'), '--no-words',
                         '--cfg-options', *_opts(root)])
    assert len(written) == 3 and all(osp.isfile(f) for f in written)
    with pytest.raises(ValueError, match='give the expression'):
        demo.main([item['image'], '--config', CFG, '--checkpoint', CKPT,
                   '--out', str(out)])


def test_grounding_proposals_empty_list_is_one_list_for_all_images():
    per_image = VisualGroundingInferencer._per_image
    # [] is "no proposals" for every image, not "zero images' lists"
    assert per_image([]) is False
    assert per_image([[0, 0, 4, 4], [1, 1, 2, 2]]) is False
    assert per_image([[[0, 0, 4, 4]], []]) is True
