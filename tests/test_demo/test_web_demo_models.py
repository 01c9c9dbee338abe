"""How ``demo/web_demo.py`` picks each tab's config and checkpoint, and
what a tab without one says (no browser, no gradio needed)."""
import os
import os.path as osp

import pytest

from helpers.tiny import REPO_ROOT
from helpers.scripts import load_script


@pytest.fixture(scope='module')
def web_demo():
    return load_script('demo', 'web_demo.py')


def _touch(path, mtime=None):
    os.makedirs(osp.dirname(path), exist_ok=True)
    open(path, 'wb').close()
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_find_checkpoint_prefers_best_then_last_then_highest_epoch(
        web_demo, tmp_path):
    d = str(tmp_path / 'run')
    assert web_demo.find_checkpoint(d) is None
    _touch(osp.join(d, 'epoch_2.pth'))
    ten = _touch(osp.join(d, 'epoch_10.pth'))
    assert web_demo.find_checkpoint(d) == ten  # 10 > 2, not text order
    two = osp.join(d, 'epoch_2.pth')
    # last_checkpoint may hold a path from another machine: same file name
    with open(osp.join(d, 'last_checkpoint'), 'w') as f:
        f.write('/elsewhere/run/epoch_2.pth\n')
    assert web_demo.find_checkpoint(d) == two
    _touch(osp.join(d, 'best_acc_epoch_1.pth'), mtime=1000)
    newest = _touch(osp.join(d, 'best_acc_epoch_3.pth'), mtime=2000)
    assert web_demo.find_checkpoint(d) == newest


def test_resolve_task_defaults_and_pretrain_fallback(web_demo, tmp_path):
    work = str(tmp_path / 'work_dirs')
    pre = _touch(osp.join(work, 'pretrain_shapes_tiny', 'epoch_6.pth'))
    slot = web_demo.resolve_task('retrieval', None, None, work, 'cpu')
    assert slot.problem is None and slot.checkpoint == pre
    assert slot.config.endswith('configs/albef/pretrain_shapes_tiny.py')
    slot = web_demo.resolve_task('grounding', None, None, work, 'cpu')
    assert slot.checkpoint == pre
    assert slot.config.endswith('configs/albef/grounding_shapes_tiny.py')
    # a fine-tuned checkpoint wins over the pre-training one
    ft = _touch(osp.join(work, 'retrieval_shapes_tiny', 'best_r_mean.pth'))
    slot = web_demo.resolve_task('retrieval', None, None, work, 'cpu')
    assert (slot.checkpoint, osp.basename(slot.config)) == (
        ft, 'retrieval_shapes_tiny.py')
    assert '(loads on the first request)' in slot.status
    assert slot._model is None  # nothing built before a request


def test_tab_without_checkpoint_says_how_to_get_one(web_demo, tmp_path):
    work = str(tmp_path / 'empty')
    slot = web_demo.resolve_task('snli_ve', None, None, work, 'cpu')
    assert slot.status.startswith('**Not available:**')
    assert ('python tools/train.py configs/albef/snli_ve_shapes_tiny.py'
            in slot.problem)
    assert '--checkpoint-snli-ve' in slot.problem  # the real flag name
    with pytest.raises(RuntimeError, match='no checkpoint found'):
        slot.get()
    slot = web_demo.resolve_task('vqa', None, str(tmp_path / 'x.pth'), work,
                                 'cpu')
    assert slot.problem == f'checkpoint {tmp_path / "x.pth"} does not exist.'
    slot = web_demo.resolve_task('nlvr2', str(tmp_path / 'cfg.py'), None,
                                 work, 'cpu')
    assert slot.problem == f'config {tmp_path / "cfg.py"} does not exist.'


def test_tab_whose_inferencer_is_missing(web_demo, monkeypatch):
    import albef_mm.apis as apis
    monkeypatch.delattr(apis, 'NLVRInferencer')
    slot = web_demo.resolve_task('nlvr2', None, None, 'work_dirs', 'cpu')
    assert slot.problem == 'this version of albef_mm has no NLVRInferencer.'


def test_command_line_flags(web_demo):
    args = web_demo.parse_args(['--checkpoint-snli-ve', 'a.pth',
                                '--config-vqa', 'v.py', '--port', '9000'])
    assert (args.checkpoint_snli_ve, args.config_vqa, args.port,
            args.host) == ('a.pth', 'v.py', 9000, '127.0.0.1')


def test_request_to_a_tab_without_model_raises_its_reason(
        web_demo, tmp_path):
    gr = pytest.importorskip('gradio')
    slot = web_demo.resolve_task('vqa', None, None, str(tmp_path), 'cpu')
    # the reason comes first, even before the missing inputs
    with pytest.raises(gr.Error, match='no checkpoint found under'):
        web_demo.answer(slot, None, '')
    with pytest.raises(gr.Error, match='no checkpoint found under'):
        web_demo.classify_pair(slot, [None, None], 'text')


def test_retrieval_tab_says_which_images_it_searches(web_demo, tmp_path):
    folder = tmp_path / 'images'
    for i in range(5):
        _touch(str(folder / f'img_{i}.jpg'))
    files, total = web_demo.gallery_listing(str(folder), 3)
    assert [osp.basename(f) for f in files] == ['img_0.jpg', 'img_1.jpg',
                                                'img_2.jpg']
    assert total == 5
    text = web_demo.describe_gallery(files, total)
    assert text.startswith(f'the first 3 of the 5 images of `{folder}`')
    assert '--gallery-max' in text and '--gallery FOLDER' in text
    files, total = web_demo.gallery_listing(str(folder), 512)
    assert web_demo.describe_gallery(files, total) == \
        f'all 5 images of `{folder}`'
    assert web_demo.gallery_listing(None, 3) == ([], 0) or \
        osp.isdir('data/shapes/images')
    # the ITM score is explained as a per-caption probability
    assert 'on its own' in web_demo.ITM_HELP
    assert 'do not sum to 100 %' in web_demo.ITM_HELP


def test_docstring_names_the_checkpoint_the_vqa_config_writes(web_demo):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'albef',
                                   'vqa_shapes_tiny.py'))
    assert f'vqa_shapes_tiny/epoch_{cfg.max_epochs}.pth' in \
        web_demo.__doc__
