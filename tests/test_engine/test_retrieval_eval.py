"""The retrieval evaluation loop: its defaults and its score matrices on
the reference fixture; tools/test.py and tools/dist_test.sh on a tiny
Shapes retrieval model (single-process and 2-process (gloo) evaluations
give the same scores)."""
import os
import os.path as osp
import pickle
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from conftest import oracle_fixture
from mmengine.config import Config
from mmengine.registry import DefaultScope
from parity.retrieval import build_retrieval_model

from albef_mm.datasets import generate_shapes
from albef_mm.engine.runner.retrieval_loop import RetrievalEvalMixin
from albef_mm.registry import MODELS
from helpers import CONFIG_ROOT
from helpers.tiny import REPO_ROOT
from helpers.scripts import load_script

CFG = osp.join(CONFIG_ROOT, 'albef', 'retrieval_shapes_tiny.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes_eval')
    data = str(root / 'shapes')
    generate_shapes(data, num_train=16, num_val=10, num_test=21)
    cfg = Config.fromfile(CFG)
    cfg.model.data_preprocessor.tokenizer.name_or_path = osp.join(
        data, 'vocab.txt')
    DefaultScope.get_instance('eval-test', scope_name='albef_mm')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = str(root / 'random.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    return data, ckpt, root


def _run(cmd, root):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(29900 + os.getpid() % 90))
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    return result.stdout + result.stderr


def _opts(data, work):
    return ['--cfg-options', f'work_dir={work}',
            f'model.data_preprocessor.tokenizer.name_or_path={data}/'
            'vocab.txt', f'test_dataloader.dataset.data_root={data}/',
            'test_dataloader.num_workers=0', 'test_dataloader.batch_size=4',
            'test_cfg.k_test=5']


def test_single_and_two_process_evaluation_agree(setup):
    data, ckpt, root = setup
    single = root / 'single.pkl'
    log = _run([sys.executable, 'tools/test.py', CFG, ckpt, '--out',
                str(single)] + _opts(data, root / 'w1'), root)
    assert 'retrieval/r_mean' in log
    double = root / 'double.pkl'
    _run(['bash', 'tools/dist_test.sh', CFG, ckpt, '2', '--out',
          str(double)] + _opts(data, root / 'w2'), root)
    with open(single, 'rb') as f:
        a = pickle.load(f)[0]
    with open(double, 'rb') as f:
        b = pickle.load(f)[0]
    assert a['scores_i2t'].shape == (21, 105)
    torch.testing.assert_close(a['scores_i2t'], b['scores_i2t'])
    torch.testing.assert_close(a['scores_t2i'], b['scores_t2i'])
    # each image keeps exactly its ITM scores for its top-5 texts (others
    # -100, unless a text's own top-5 images also asked for the pair)
    assert ((a['scores_i2t'] != -100).sum(1) >= 5).all()


def test_retrieval_demo_ranks_images_by_itm(setup, tmp_path):
    data, ckpt, _ = setup
    demo = load_script('demo', 'retrieval_demo.py')
    out = tmp_path / 'top.png'
    results = demo.main([
        CFG, ckpt, '--images', osp.join(data, 'images'), '--text',
        'a red circle', '--topk', '4', '--out', str(out), '--device', 'cpu',
        '--cfg-options',
        f'model.data_preprocessor.tokenizer.name_or_path={data}/vocab.txt'])
    assert len(results) == 4 and out.is_file()
    itm = [r[1] for r in results]
    assert itm == sorted(itm, reverse=True)
    with pytest.raises(FileNotFoundError, match='neither an image'):
        demo.list_images([str(tmp_path / 'missing')])


@torch.no_grad()
def _brute_force_scores(data, ckpt):
    """Every (image, text) ITM score and ITC similarity of the test split,
    computed pair by pair with plain module calls (no loop, no shortlist,
    no cached keys/values)."""
    from mmengine.dataset import pseudo_collate
    from albef_mm.registry import DATASETS
    cfg = Config.fromfile(CFG)
    cfg.model.data_preprocessor.tokenizer.name_or_path = osp.join(
        data, 'vocab.txt')
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(torch.load(ckpt)['state_dict'])
    ds_cfg = cfg.test_dataloader.dataset
    ds_cfg.data_root = data + '/'
    dataset = DATASETS.build(ds_cfg)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    images = model.data_preprocessor(batch, False)['images']
    tok = model.data_preprocessor.tokenize(
        list(dataset.texts), max_length=30, padding='max_length')
    image_embeds = model.vision_backbone(images)
    text_embeds = model.text_backbone(tok['text_ids'], tok['text_mask'])
    image_feat = model.itc_head.image_feat(image_embeds[:, 0])
    text_feat = model.itc_head.text_feat(text_embeds[:, 0])
    sims = image_feat @ text_feat.t()
    itm = torch.empty(len(images), len(dataset.texts))
    for i in range(len(images)):
        fused = model.neck(text_embeds, tok['text_mask'],
                           image_embeds[i:i + 1].expand(len(text_embeds),
                                                        -1, -1))
        itm[i] = model.itm_head.fc(fused[:, 0])[:, 1]
    return sims, itm, dataset


def test_loop_scores_equal_brute_force_top_k(setup):
    """Absolute anchor: the loop's score matrices hold the ITM score of
    exactly each row's ITC top-k (k from the config) and -100 elsewhere,
    and its recalls are those of these matrices."""
    from albef_mm.evaluation.metrics.retrieval import RetrievalRecall
    data, ckpt, root = setup
    out = root / 'brute.pkl'
    k = 5
    log = _run([sys.executable, 'tools/test.py', CFG, ckpt, '--out',
                str(out)] + _opts(data, root / 'w3'), root)
    with open(out, 'rb') as f:
        got = pickle.load(f)[0]
    sims, itm, dataset = _brute_force_scores(data, ckpt)
    exp_i2t = torch.full_like(itm, -100.)
    top = sims.topk(k, dim=1).indices
    exp_i2t.scatter_(1, top, itm.gather(1, top))
    exp_t2i = torch.full_like(itm.t(), -100.)
    top = sims.t().topk(k, dim=1).indices
    exp_t2i.scatter_(1, top, itm.t().gather(1, top))
    assert ((got['scores_i2t'] != -100).sum(1) == k).all()
    assert ((got['scores_t2i'] != -100).sum(1) == k).all()
    torch.testing.assert_close(got['scores_i2t'], exp_i2t, atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(got['scores_t2i'], exp_t2i, atol=1e-4,
                               rtol=1e-4)
    metric = RetrievalRecall()
    metric.process(None, [dict(scores_i2t=exp_i2t, scores_t2i=exp_t2i,
                               img2txt=dataset.img2txt,
                               txt2img=dataset.txt2img)])
    expected = metric.compute_metrics(metric.results)
    for name in ('txt_r1', 'img_r1', 'r_mean'):
        logged = float(re.search(rf'retrieval/{name}: ([0-9.]+)',
                                 log).group(1))
        assert abs(logged - expected[name]) < 0.01, (name, logged,
                                                     expected[name])


def test_retrieval_eval_defaults_are_the_original_coco_settings():
    """Without ``val_cfg``/``test_cfg`` keys the loop evaluates as
    ALBEF's COCO config: 256 re-ranked candidates, ITM logit alone,
    captions of at most 30 tokens."""
    loop = RetrievalEvalMixin()
    loop._setup()
    assert (loop.k_test, loop.itm_rerank, loop.add_itc) == (256, True, False)
    assert loop.text_max_length == 30


class _Loader(list):
    """Batches of the loop's dataloader, with its ``dataset``."""

    def __init__(self, batches, dataset):
        super().__init__(batches)
        self.dataset = dataset


class _Evaluator:

    def process(self, data_samples, data_batch=None):
        self.sample, = data_samples

    def evaluate(self, size):
        return {}


class _FixtureModel:
    """The fixture's retrieval model behind the loop's model interface,
    with the fixture's token ids standing in for the tokenizer and its
    normalised images for the preprocessor."""

    def __init__(self, model, inputs):
        self.model, self.inputs = model, inputs
        self.data_preprocessor = self

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, batch, training=False):
        return dict(images=batch['inputs'], data_samples=batch['samples'])

    def tokenize(self, texts, max_length=None, padding=None,
                 truncation=None):
        rows = [int(t) for t in texts]
        return dict(text_ids=self.inputs['text_ids'][rows],
                    text_mask=self.inputs['text_atts'][rows])


def _loop(itm_rerank):
    fx = torch.load(oracle_fixture('retrieval.pth'))
    inp = fx['inputs']
    wrapped = _FixtureModel(build_retrieval_model(fx).eval(), inp)
    samples = [SimpleNamespace(image_idx=i) for i in range(4)]
    batches = [dict(inputs=inp['image'][:3], samples=samples[:3]),
               dict(inputs=inp['image'][3:], samples=samples[3:])]
    dataset = SimpleNamespace(texts=['0', '1', '2', '3'], num_images=4,
                              img2txt=[[0], [1], [2], [3]],
                              txt2img=[0, 1, 2, 3])

    class Loop(RetrievalEvalMixin):
        model = wrapped

    loop = Loop()
    loop._setup(k_test=fx['config']['k_test'], itm_rerank=itm_rerank,
                text_batch_size=3)
    loop.dataloader, loop.fp16 = _Loader(batches, dataset), False
    loop.evaluator = _Evaluator()
    loop.evaluate_retrieval()
    return loop.evaluator.sample, fx['outputs']['eval']


def test_loop_scores_are_the_fixture_score_matrices():
    """Shortlist of k_test = 2, ITM re-rank, -100 elsewhere: the original
    evaluation's matrices of both directions."""
    sample, exp = _loop(itm_rerank=True)
    torch.testing.assert_close(sample['scores_i2t'], exp['score_matrix_i2t'],
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sample['scores_t2i'], exp['score_matrix_t2i'],
                               rtol=1e-5, atol=1e-5)
    assert (sample['scores_i2t'] == -100).sum(1).tolist() == [2, 2, 2, 2]


def test_loop_without_rerank_scores_with_itc_similarities():
    sample, exp = _loop(itm_rerank=False)
    sims = exp['sims_matrix']
    assert not torch.allclose(sims, sims.t(), atol=1e-3)
    torch.testing.assert_close(sample['scores_i2t'], sims, rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(sample['scores_t2i'], sims.t(), rtol=1e-5,
                               atol=1e-6)
