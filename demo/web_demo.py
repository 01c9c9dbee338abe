"""Local web demo of the ALBEF task models (Gradio), one tab per task.

Usage (from the repository root, where ``data/shapes`` lives):
    pip install -e .[demo]
    python demo/web_demo.py                      # http://127.0.0.1:7860
    python demo/web_demo.py --port 7861 --gallery path/to/images \
        --config-vqa configs/albef/vqa_shapes_tiny.py \
        --checkpoint-vqa work_dirs/vqa_shapes_tiny/epoch_3.pth

Tabs: grounding (Grad-CAM overlay and one map per word), VQA (answers with
scores), retrieval (a text query against the ``--gallery`` folder, and an
image scored against captions, with ITM and ITC scores), NLVR2 and
SNLI-VE. Each tab takes ``--config-<task>`` / ``--checkpoint-<task>``;
by default the tiny Shapes config of the task and the best (else the last)
checkpoint of its ``--work-dirs`` folder, i.e. what
``python tools/train.py configs/albef/<task>_shapes_tiny.py`` writes
(grounding and retrieval fall back to the pre-training checkpoint, whose
ITM head scores and grounds).
A tab without a checkpoint says how to produce one. Models load on their
tab's first request.
"""
import argparse
import glob
import os
import os.path as osp
import re
import sys
import threading
from typing import Callable, Dict, List, Optional

import numpy as np

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
REPO = osp.abspath(osp.join(osp.dirname(osp.abspath(__file__)), '..'))
sys.path.insert(0, REPO)

# task -> (inferencer class in albef_mm.apis, default (config, work dir)
# pairs in order of preference, tab title). Grounding and retrieval fall
# back to the pre-training checkpoint: its ITM head scores and grounds.
TASKS = {
    'grounding': ('VisualGroundingInferencer',
                  [('grounding_shapes_tiny.py', 'grounding_shapes_tiny'),
                   ('grounding_shapes_tiny.py', 'pretrain_shapes_tiny')],
                  'Grounding'),
    'vqa': ('VQAInferencer', [('vqa_shapes_tiny.py', 'vqa_shapes_tiny')],
            'VQA'),
    'retrieval': ('ImageTextRetrievalInferencer',
                  [('retrieval_shapes_tiny.py', 'retrieval_shapes_tiny'),
                   ('pretrain_shapes_tiny.py', 'pretrain_shapes_tiny')],
                  'Retrieval'),
    'nlvr2': ('NLVRInferencer',
              [('nlvr2_shapes_tiny.py', 'nlvr2_shapes_tiny')], 'NLVR2'),
    'snli_ve': ('VEInferencer',
                [('snli_ve_shapes_tiny.py', 'snli_ve_shapes_tiny')],
                'SNLI-VE'),
}


EPOCH_FILE = re.compile(r'epoch_(\d+)\.pth$')
# What an ITM score is: the model's probability that this one caption
# matches the image, each caption scored on its own (a Gradio label shows it
# as a percentage, which would otherwise read as a share among captions).
ITM_HELP = ('ITM: the probability that each caption, on its own, matches '
            'the image (0-100 %; captions are scored independently, so the '
            'values do not sum to 100 %). ITC: cosine similarity of the '
            'image and text embeddings (-1 to 1).')


def find_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a training run left in ``work_dir``: the newest
    ``best_*.pth``, else the file named by ``last_checkpoint``, else the
    highest ``epoch_<N>.pth`` (other names are ignored); None when there
    is none."""
    best = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')),
                  key=osp.getmtime)
    if best:
        return best[-1]
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            path = f.read().strip()
        for cand in (path, osp.join(work_dir, osp.basename(path))):
            if osp.isfile(cand):
                return cand
    # only ``epoch_<N>.pth``: ``epoch_final.pth`` or ``epoch_10_backup1.pth``
    # are not what the runner wrote (and their digits are not the epoch)
    epochs = {}
    for path in glob.glob(osp.join(work_dir, 'epoch_*.pth')):
        match = EPOCH_FILE.match(osp.basename(path))
        if match:
            epochs[int(match.group(1))] = path
    return epochs[max(epochs)] if epochs else None


class LazyTask:
    """One tab's model: resolved at start-up (paths only), built on first
    use, shared by later requests.

    Args:
        task (str): Key of :data:`TASKS`.
        config (str): Config file, or None when none was found.
        checkpoint (str): Checkpoint file, or None.
        build (Callable): ``build(config, checkpoint)`` -> inferencer.
        problem (str): Why the tab cannot run (shown instead of results);
            None when it can.
    """

    def __init__(self, task: str, config: Optional[str],
                 checkpoint: Optional[str], build: Optional[Callable],
                 problem: Optional[str] = None):
        self.task, self.config, self.checkpoint = task, config, checkpoint
        self.build, self.problem = build, problem
        self._model = None
        self.lock = threading.Lock()  # one build, one request at a time

    @property
    def status(self) -> str:
        if self.problem:
            return f'**Not available:** {self.problem}'
        return (f'Model: `{osp.relpath(self.config, REPO)}` with '
                f'`{self.checkpoint}` (loads on the first request).')

    def get(self):
        """The inferencer (call with ``self.lock`` held)."""
        if self.problem:
            raise RuntimeError(self.problem)
        if self._model is None:
            self._model = self.build(self.config, self.checkpoint)
        return self._model


def resolve_task(task: str, config: Optional[str], checkpoint: Optional[str],
                 work_dirs: str, device: str) -> LazyTask:
    """Pick the config / checkpoint of ``task`` (explicit arguments first,
    then the tiny Shapes defaults) and say what is missing."""
    import albef_mm.apis as apis
    cls_name, defaults, _ = TASKS[task]
    flag = task.replace('_', '-')
    cls = getattr(apis, cls_name, None)
    if cls is None:
        return LazyTask(task, None, None, None,
                        f'this version of albef_mm has no {cls_name}.')

    def build(cfg, ckpt):
        return cls(cfg, ckpt, device=device)
    if config is not None:
        if not osp.isfile(config):
            return LazyTask(task, None, None, None,
                            f'config {config} does not exist.')
        if checkpoint is None:
            name = osp.splitext(osp.basename(config))[0]
            checkpoint = find_checkpoint(osp.join(work_dirs, name))
        if checkpoint is None:
            return LazyTask(task, config, None, None, (
                f'no checkpoint for {config}: train it with `python '
                f'tools/train.py {config}` or pass --checkpoint-{flag}.'))
    else:
        candidates = [(osp.join(REPO, 'configs', 'albef', c), d)
                      for c, d in defaults]
        config = candidates[0][0]
        if checkpoint is None:
            for cand, work_dir in candidates:
                checkpoint = find_checkpoint(osp.join(work_dirs, work_dir))
                if checkpoint is not None:
                    config = cand
                    break
        if checkpoint is None:
            cmds = ' or '.join(
                f'`python tools/train.py configs/albef/{d}.py`'
                for d in dict.fromkeys(d for _, d in defaults))
            return LazyTask(task, config, None, None, (
                f'no checkpoint found under {work_dirs}/: train one with '
                f'{cmds}, or pass --checkpoint-{flag} (and --config-{flag}).'))
    if not osp.isfile(checkpoint):
        return LazyTask(task, config, None, None,
                        f'checkpoint {checkpoint} does not exist.')
    return LazyTask(task, config, checkpoint, build)


def _run(slot: LazyTask, fn: Callable):
    """Run ``fn(inferencer)``; failures become a Gradio error message."""
    import gradio as gr
    if slot.problem:
        raise gr.Error(slot.problem)
    with slot.lock:
        try:
            return fn(slot.get())
        except gr.Error:
            raise
        except Exception as exc:  # shown in the page, not a dead socket
            raise gr.Error(f'{type(exc).__name__}: {exc}')


def _ready(slot: LazyTask) -> None:
    """A tab without a model answers with its reason first."""
    import gradio as gr
    if slot.problem:
        raise gr.Error(slot.problem)


def _need(value, what: str):
    import gradio as gr
    if value is None or (isinstance(value, str) and not value.strip()):
        raise gr.Error(f'Please give {what}.')
    return value.strip() if isinstance(value, str) else value


def _display(image: np.ndarray, size: int = 256) -> np.ndarray:
    """Nearest-neighbour upscale of small images so the page shows them."""
    scale = max(1, size // max(image.shape[:2]))
    return image.repeat(scale, 0).repeat(scale, 1) if scale > 1 else image


def _overlay(image: np.ndarray, heatmap) -> np.ndarray:
    from albef_mm.visualization import overlay_heatmap
    out = overlay_heatmap(_display(image), heatmap)
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


# ------------------------------------------------------------ handlers
def ground(slot: LazyTask, image, expression):
    """Grad-CAM overlay of the expression and one overlay per word."""
    _ready(slot)
    image, expression = _need(image, 'an image'), _need(expression,
                                                        'an expression')
    r = _run(slot, lambda inf: inf(image, expression)[0])
    words = [(_overlay(image, m), w)
             for m, w in zip(r['token_maps'] if r['words'] else [],
                             r['words'])]
    return _overlay(image, r['heatmap']), words


def answer(slot: LazyTask, image, question) -> Dict[str, float]:
    """VQA answers -> score, best first."""
    _ready(slot)
    image, question = _need(image, 'an image'), _need(question, 'a question')
    r = _run(slot, lambda inf: inf(image, question)[0])
    return {a: float(s) for a, s in zip(r['answers'], r['scores'])}


def _table(rows: List[dict], key: str) -> str:
    lines = [f'| rank | {key} | ITM | ITC |', '|---|---|---|---|']
    lines += [f'| {i + 1} | {r[key]} | {r["itm"]:.4f} | {r["itc"]:.4f} |'
              for i, r in enumerate(rows)]
    return '\n'.join(lines)


def search_images(slot: LazyTask, gallery: Optional[List[str]], query,
                  topk):
    """Top images of the gallery (image files, or the folder of a gallery
    store) for a text query."""
    import gradio as gr
    _ready(slot)
    query = _need(query, 'a text query')
    if not gallery:
        raise gr.Error('No images to search: start the demo with '
                       '--gallery DIR.')

    def fn(inf):
        if isinstance(gallery, str):  # a gallery store (tools/gallery.py)
            if inf.store is None:
                inf.open_gallery_store(gallery)
        elif 'images' not in inf.gallery:
            inf.set_image_gallery(gallery)
        return inf.text_to_image(query, topk=int(topk))[0]
    rows = _run(slot, fn)
    for r in rows:
        r['file'] = osp.basename(r['image'])
    pics = [(r['image'], f'{r["file"]}  ITM {r["itm"]:.3f}  '
             f'ITC {r["itc"]:.3f}') for r in rows]
    return pics, _table(rows, 'file')


def score_captions(slot: LazyTask, image, captions):
    """ITM (and ITC) scores of an image with each caption (one per line),
    best ITM first."""
    _ready(slot)
    image = _need(image, 'an image')
    texts = [t.strip() for t in _need(captions, 'a caption').splitlines()
             if t.strip()]

    def fn(inf):
        inf.set_text_gallery(texts)
        return inf.image_to_text(image, topk=len(texts))[0]
    rows = _run(slot, fn)
    return ({r['text']: r['itm'] for r in rows}, _table(rows, 'text'))


def classify_pair(slot: LazyTask, images: list, text) -> Dict[str, float]:
    """Class probabilities of NLVR2 (``images``: left and right) or SNLI-VE
    (``images``: one)."""
    _ready(slot)
    names = ['a left image', 'a right image'] if len(images) == 2 \
        else ['an image']
    images = [_need(i, n) for i, n in zip(images, names)]
    inputs = [tuple(images)] if len(images) == 2 else images
    text = _need(text, 'a sentence')
    r, classes = _run(slot, lambda inf: (inf(inputs, text)[0], inf.classes))
    return {c: float(p) for c, p in zip(classes, r['pred_score'].tolist())}


# ------------------------------------------------------------ page
def build_demo(slots: Dict[str, LazyTask], gallery: Optional[List[str]],
               gallery_name: str = ''):
    """The Gradio page: one tab per task of ``slots``; ``gallery``: the image
    files text queries search (``gallery_name`` describes them)."""
    import gradio as gr
    with gr.Blocks(title='ALBEF demo') as demo:
        gr.Markdown('# ALBEF: Align before Fuse\nUpload an image and ask '
                    'the model. Scores are probabilities (ITM, VQA, NLVR2, '
                    'SNLI-VE) or cosine similarities (ITC).')
        with gr.Tab('Grounding', id='grounding'):
            s = slots['grounding']
            gr.Markdown(s.status, elem_id='grounding-status')
            with gr.Row():
                with gr.Column():
                    img = gr.Image(label='Image', elem_id='grounding-image')
                    txt = gr.Textbox(label='Referring expression',
                                     elem_id='grounding-text')
                    btn = gr.Button('Ground', variant='primary',
                                    elem_id='grounding-submit')
                with gr.Column():
                    out = gr.Image(label='Grad-CAM', elem_id='grounding-out')
                    words = gr.Gallery(label='Per word', columns=4,
                                       elem_id='grounding-words')
            btn.click(lambda i, t, s=s: ground(s, i, t), [img, txt],
                      [out, words])
        with gr.Tab('VQA', id='vqa'):
            s = slots['vqa']
            gr.Markdown(s.status, elem_id='vqa-status')
            with gr.Row():
                with gr.Column():
                    img = gr.Image(label='Image', elem_id='vqa-image')
                    txt = gr.Textbox(label='Question', elem_id='vqa-question')
                    btn = gr.Button('Answer', variant='primary',
                                    elem_id='vqa-submit')
                out = gr.Label(label='Answers', num_top_classes=5,
                               elem_id='vqa-answers')
            btn.click(lambda i, t, s=s: answer(s, i, t), [img, txt], out)
        with gr.Tab('Retrieval', id='retrieval'):
            s = slots['retrieval']
            gr.Markdown(s.status + (f' Gallery: {gallery_name}.' if gallery
                                    else ' No --gallery folder given.'),
                        elem_id='retrieval-status')
            gr.Markdown('### Text → images')
            with gr.Row():
                txt = gr.Textbox(label='Query', elem_id='retrieval-query',
                                 scale=4, info=f'Searches {gallery_name}.'
                                 if gallery else 'No images to search.')
                k = gr.Slider(1, 20, value=5, step=1, label='Top k')
                btn = gr.Button('Search', variant='primary',
                                elem_id='retrieval-submit')
            pics = gr.Gallery(label='Best ITM first', columns=5,
                              elem_id='retrieval-gallery')
            table = gr.Markdown(elem_id='retrieval-table')
            btn.click(lambda q, n, s=s: search_images(s, gallery, q, n),
                      [txt, k], [pics, table])
            gr.Markdown('### Image → ITM score of captions')
            with gr.Row():
                img = gr.Image(label='Image', elem_id='itm-image')
                with gr.Column():
                    caps = gr.Textbox(label='Captions (one per line)',
                                      lines=4, elem_id='itm-captions')
                    btn = gr.Button('Score', variant='primary',
                                    elem_id='itm-submit')
                    lab = gr.Label(label='ITM match probability per '
                                   'caption', elem_id='itm-label')
            gr.Markdown(ITM_HELP, elem_id='itm-help')
            table = gr.Markdown(elem_id='itm-table')
            btn.click(lambda i, c, s=s: score_captions(s, i, c), [img, caps],
                      [lab, table])
        with gr.Tab('NLVR2', id='nlvr2'):
            s = slots['nlvr2']
            gr.Markdown(s.status, elem_id='nlvr2-status')
            with gr.Row():
                left = gr.Image(label='Left image', elem_id='nlvr2-left')
                right = gr.Image(label='Right image', elem_id='nlvr2-right')
            txt = gr.Textbox(label='Statement', elem_id='nlvr2-text')
            btn = gr.Button('Judge', variant='primary', elem_id='nlvr2-submit')
            out = gr.Label(label='Prediction', elem_id='nlvr2-label')
            btn.click(lambda a, b, t, s=s: classify_pair(s, [a, b], t),
                      [left, right, txt], out)
        with gr.Tab('SNLI-VE', id='snli_ve'):
            s = slots['snli_ve']
            gr.Markdown(s.status, elem_id='snli_ve-status')
            with gr.Row():
                img = gr.Image(label='Premise image', elem_id='snli_ve-image')
                with gr.Column():
                    txt = gr.Textbox(label='Hypothesis',
                                     elem_id='snli_ve-text')
                    btn = gr.Button('Judge', variant='primary',
                                    elem_id='snli_ve-submit')
                    out = gr.Label(label='Prediction',
                                   elem_id='snli_ve-label')
            btn.click(lambda i, t, s=s: classify_pair(s, [i], t),
                      [img, txt], out)
    return demo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (default: localhost only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--work-dirs', default='work_dirs',
                        help='where the default checkpoints are looked up: '
                        '<work-dirs>/<config name>/')
    parser.add_argument('--gallery', default=None,
                        help='folder of images for text -> image retrieval, '
                        'or a gallery store (tools/gallery.py) '
                        '(default: data/shapes/images when it exists)')
    parser.add_argument('--gallery-max', type=int, default=512,
                        help='use at most this many images of the folder')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda when available)')
    for task in TASKS:
        parser.add_argument(f'--config-{task.replace("_", "-")}',
                            dest=f'config_{task}', metavar='CONFIG')
        parser.add_argument(f'--checkpoint-{task.replace("_", "-")}',
                            dest=f'checkpoint_{task}', metavar='CKPT')
    return parser.parse_args(argv)


def gallery_listing(folder: Optional[str], limit: int):
    """``(the first limit image files, how many the folder holds)`` of
    ``folder`` (default: ``data/shapes/images`` when it exists)."""
    if folder is None:
        folder = 'data/shapes/images'
        if not osp.isdir(folder):
            return [], 0
    from albef_mm.apis.retrieval_inferencer import list_image_files
    files = list_image_files(folder)
    return [osp.abspath(f) for f in files[:limit]], len(files)


def store_gallery(root: str):
    """``(root, the folders of its images, description)`` of a gallery
    store (``tools/gallery.py encode``): searched whole, at any size."""
    from albef_mm.apis.gallery_store import GalleryStore
    store = GalleryStore.open(root)
    folders = sorted({osp.dirname(p) for p in store.paths})
    return root, folders, (f'all {len(store.paths):,} images of the '
                           f'gallery store `{root}`')


def describe_gallery(files: List[str], total: int) -> str:
    """What text queries search, as the retrieval tab says it: all the
    images of the folder, or the first N of them and how to search more."""
    if not files:
        return ''
    folders = ', '.join(sorted({osp.dirname(f) for f in files}))
    if total > len(files):
        return (f'the first {len(files):,} of the {total:,} images of '
                f'`{folders}` (--gallery-max {len(files)}; raise it, or '
                'pass --gallery FOLDER to search another folder or split)')
    return f'all {len(files):,} images of `{folders}`'


def main(argv=None):
    args = parse_args(argv)
    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    slots = {t: resolve_task(t, getattr(args, f'config_{t}'),
                             getattr(args, f'checkpoint_{t}'),
                             args.work_dirs, device) for t in TASKS}
    for task, slot in slots.items():
        print(f'[{task}] {slot.status}')
    if args.gallery and osp.isfile(osp.join(args.gallery, 'store.json')):
        gallery, folders, name = store_gallery(args.gallery)
    else:
        gallery, total = gallery_listing(args.gallery, args.gallery_max)
        folders = sorted({osp.dirname(f) for f in gallery})
        name = describe_gallery(gallery, total)
    print(f'[gallery] {name or "none"}')
    demo = build_demo(slots, gallery, name)
    demo.queue().launch(server_name=args.host, server_port=args.port,
                        share=False, ssr_mode=False, allowed_paths=folders,
                        footer_links=[])


if __name__ == '__main__':
    main()
