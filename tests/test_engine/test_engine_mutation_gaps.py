"""Engine behaviour a package-wide mutation pass found untested."""
from albef_mm.engine.runner.retrieval_loop import RetrievalEvalMixin


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
    from types import SimpleNamespace

    import torch
    from conftest import oracle_fixture

    from parity.retrieval import build_retrieval_model
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
    import torch
    sample, exp = _loop(itm_rerank=True)
    torch.testing.assert_close(sample['scores_i2t'], exp['score_matrix_i2t'],
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sample['scores_t2i'], exp['score_matrix_t2i'],
                               rtol=1e-5, atol=1e-5)
    assert (sample['scores_i2t'] == -100).sum(1).tolist() == [2, 2, 2, 2]


def test_loop_without_rerank_scores_with_itc_similarities():
    import torch
    sample, exp = _loop(itm_rerank=False)
    sims = exp['sims_matrix']
    assert not torch.allclose(sims, sims.t(), atol=1e-3)
    torch.testing.assert_close(sample['scores_i2t'], sims, rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(sample['scores_t2i'], sims.t(), rtol=1e-5,
                               atol=1e-6)


def test_random_state_hook_restores_every_generator_on_resume():
    import random
    from types import SimpleNamespace

    import numpy as np
    import torch

    from albef_mm.engine.hooks.random_state_hook import RandomStateHook
    hook = RandomStateHook()
    ckpt = {}
    hook.before_save_checkpoint(None, ckpt)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), ckpt)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == \
        expected
    # a plain load (no resume) leaves the generators alone
    hook.after_load_checkpoint(SimpleNamespace(_resume=False), ckpt)
    assert np.random.rand() != expected[1]


def test_alpha_warmup_hook_logs_train_alpha():
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from albef_mm.engine.hooks import AlphaWarmupHook
    model = SimpleNamespace(alpha=0.0, max_alpha=0.4)
    hub = MessageHub.get_instance('albef_mm_alpha_log_test')
    runner = SimpleNamespace(model=model, train_dataloader=[0] * 8, iter=2,
                             message_hub=hub)
    hook = AlphaWarmupHook()
    hook.before_train_iter(runner, 2)
    hook.after_train_iter(runner, 2)
    assert model.alpha == 0.4 * 2 / 8
    assert hub.get_scalar('train/alpha').current() == 0.1
