"""Mixed precision and the GPU path, checked on CPU: fp32 islands under
bf16 autocast, SDPA attention, and no host-device synchronisation in the
training step."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from albef_mm.registry import MODELS
from helpers.tiny import tiny_pretrain_model_cfg

BATCH, LENGTH = 4, 12


def build_model():
    torch.manual_seed(0)
    model = MODELS.build(tiny_pretrain_model_cfg(queue_size=16))
    model.init_weights()
    return model.train()


def batch():
    g = torch.Generator().manual_seed(1)
    images = torch.randn(BATCH, 3, 64, 64, generator=g)
    ids = torch.randint(104, 512, (BATCH, LENGTH), generator=g)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    ids[1, 9:] = 0
    return images, ids, mask


def run_step(model, data, autocast: bool):
    """Forward (recording the dtypes inside the heads) and backward."""
    seen = {}
    itc_loss, mlm_loss = model.itc_loss.loss, model.mlm_head.loss
    weights = model.itm_head.negative_weights
    linear = next(m for m in model.vision_backbone.modules()
                  if isinstance(m, torch.nn.Linear))

    def rec_itc(*args, **kwargs):
        out = itc_loss(*args, **kwargs)
        seen.update({f'itc/{k}': v.dtype for k, v in out.items()})
        return out

    def rec_mlm(logits, labels, soft_labels=None, alpha=0.0):
        seen['mlm/logits'] = logits.dtype
        seen['mlm/soft_labels'] = soft_labels.dtype
        out = mlm_loss(logits, labels, soft_labels, alpha)
        seen['mlm/loss'] = out.dtype
        return out

    def rec_weights(sim, idx=None):
        out = weights(sim, idx)
        seen['itm/weights'] = out.dtype
        return out

    def rec_linear(module, inputs, out):
        seen['vit/linear'] = out.dtype

    model.itc_loss.loss = rec_itc
    model.mlm_head.loss = rec_mlm
    model.itm_head.negative_weights = rec_weights
    handle = linear.register_forward_hook(rec_linear)
    model.generator = torch.Generator().manual_seed(0)
    model.alpha = 0.4
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            losses = model.loss(*data)
        sum(losses.values()).backward()
        model.dequeue_and_enqueue()
    finally:
        for name in ('loss', 'negative_weights'):
            for head in (model.itc_loss, model.mlm_head, model.itm_head):
                head.__dict__.pop(name, None)
        handle.remove()
    return {k: v.detach() for k, v in losses.items()}, seen


def test_bf16_autocast_keeps_fp32_islands():
    data = batch()
    ref_model, amp_model = build_model(), build_model()
    amp_model.load_state_dict(ref_model.state_dict())
    ref, ref_seen = run_step(ref_model, data, autocast=False)
    amp, seen = run_step(amp_model, data, autocast=True)
    # Autocast was active: the ViT's linear layers ran in bf16.
    assert seen['vit/linear'] == torch.bfloat16
    assert ref_seen['vit/linear'] == torch.float32
    # Inside the islands everything is float32.
    for key in ('itc/loss_itc', 'itc/sim_i2t', 'itc/sim_t2i',
                'itc/targets_i2t', 'itc/targets_t2i', 'itc/targets_hard',
                'mlm/logits', 'mlm/soft_labels', 'mlm/loss', 'itm/weights'):
        assert seen[key] == torch.float32, key
    for name in ('image_queue', 'text_queue'):
        assert getattr(amp_model.itc_loss, name).dtype == torch.float32
    assert int(amp_model.itc_loss.queue_ptr) == BATCH
    # The queues got the (fp32-normalised) momentum features: unit columns.
    written = amp_model.itc_loss.image_queue[:, :BATCH]
    torch.testing.assert_close(written.norm(dim=0), torch.ones(BATCH))
    # Losses close to float32 (bf16 has an 8-bit mantissa).
    for key in ref:
        assert amp[key].dtype == torch.float32
        torch.testing.assert_close(amp[key], ref[key], rtol=3e-2, atol=3e-2)
    # Gradients reach the fp32 parameters through the islands.
    assert amp_model.itc_head.temp.grad is not None
    assert amp_model.itc_head.temp.grad.dtype == torch.float32


def test_heads_unchanged_in_float32():
    """The islands are no-ops without autocast: same tensors, same dtype."""
    model = build_model()
    cls = torch.randn(3, 64)
    feat = model.itc_head.image_feat(cls)
    expected = torch.nn.functional.normalize(model.itc_head.vision_proj(cls),
                                             dim=-1)
    assert torch.equal(feat, expected)
    hidden = torch.randn(2, 5, 64)
    assert torch.equal(model.mlm_head(hidden),
                       model.mlm_head.predictions(hidden))


class OpRecorder(TorchDispatchMode):
    """Records every ATen op and whether it was given a boolean index."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket.__name__)
        if name.startswith('index'):
            indices = args[1] if len(args) > 1 else []
            if isinstance(indices, (list, tuple)) and any(
                    torch.is_tensor(i) and i.dtype == torch.bool
                    for i in indices):
                name += '[bool]'
        self.ops.append(name)
        return func(*args, **(kwargs or {}))


# ATen ops that copy a device value to the host (.item(), bool(), int(),
# .tolist()) or whose output size depends on values (nonzero, boolean
# masks, masked_select), or that validate on the host (multinomial).
SYNC_OPS = ('_local_scalar_dense', 'nonzero', 'masked_select', 'multinomial',
            'unique', 'item')


def test_training_step_has_no_host_sync_and_uses_sdpa():
    """On a GPU each of these ops would block the host; the whole training
    step (EMA, forward of the three losses, backward, enqueue) is free of
    them. (The non-finite-loss check in ``parse_losses`` and MMEngine's
    logging sync once per iteration by design; they are outside the model
    step.)"""
    model = build_model()
    # On CPU tensors the MLM head selects the masked rows by default
    # (nonzero: free on a CPU); on a GPU it does not. Emulate the GPU.
    model.mlm_head.logits_at_labels_only = False
    data = batch()
    model.generator = torch.Generator().manual_seed(0)
    model.alpha = 0.4
    with OpRecorder() as rec:
        model.momentum_update()
        losses = model.loss(*data)
        sum(losses.values()).backward()
        model.dequeue_and_enqueue()
    syncing = sorted({op for op in rec.ops
                      if op in SYNC_OPS or op.endswith('[bool]')})
    assert syncing == []
    # Attention runs through the fused SDPA kernels, never the eager
    # softmax path (only Grad-CAM's AttentionCapture switches to it).
    sdpa = [op for op in rec.ops if 'scaled_dot_product' in op]
    # ViT 2 blocks, text 2 layers, fusion 2 layers x (self + cross); the
    # momentum branch and the ITM / MLM fusion passes add more.
    assert len(sdpa) >= 2 * (2 + 2 + 4)
    assert int(model.itc_loss.queue_ptr) == BATCH


def test_recorder_detects_syncs():
    """The detector itself: .item(), nonzero and boolean indexing."""
    x = torch.arange(6.)
    with OpRecorder() as rec:
        x.sum().item()
        x[x > 2].sum()
        torch.nonzero(x)
        torch.multinomial(torch.ones(2, 3), 1)
    found = {op for op in rec.ops
             if op in SYNC_OPS or op.endswith('[bool]')}
    assert {'_local_scalar_dense', 'nonzero', 'multinomial'} <= found
    assert any(op.endswith('[bool]') for op in found)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU: '
                    'torch.cuda.set_sync_debug_mode checks the real step')
def test_cuda_step_under_sync_debug_mode():
    model = build_model().cuda()
    data = [t.cuda() for t in batch()]
    model.generator = torch.Generator('cuda').manual_seed(0)
    model.alpha = 0.4
    torch.cuda.set_sync_debug_mode('error')
    try:
        model.momentum_update()
        with torch.autocast('cuda', dtype=torch.bfloat16):
            losses = model.loss(*data)
        sum(losses.values()).backward()
        model.dequeue_and_enqueue()
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert int(model.itc_loss.queue_ptr) == BATCH
