"""BertSelfAttention's two ways to attend: SDPA, and the explicit softmax
used for Grad-CAM (AttentionCapture) and for training with attention
dropout on a CPU (where SDPA has no dropout kernel); same draws, same
numbers."""
import pytest
import torch
import torch.nn.functional as F

from albef_mm.models.layers.bert_layer import BertSelfAttention


def _inputs():
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 5, 32, generator=g, requires_grad=True)
    image = torch.randn(3, 9, 24, generator=g, requires_grad=True)
    mask = torch.zeros(3, 1, 1, 9)
    mask[0, ..., 7:] = -1e9  # padded keys of the first row
    return hidden, image, mask


def _run(attn, hidden, image, mask):
    torch.manual_seed(1)  # the dropout draws
    out = attn(hidden, image, mask)
    hidden.grad = image.grad = None
    out.pow(2).sum().backward()
    return out.detach(), hidden.grad.clone(), image.grad.clone()


def _count_sdpa(monkeypatch):
    calls = []
    real = F.scaled_dot_product_attention

    def counted(*args, **kwargs):
        calls.append(kwargs.get('dropout_p'))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, 'scaled_dot_product_attention', counted)
    return calls


def test_training_with_dropout_on_cpu_is_explicit_and_equals_sdpa(
        monkeypatch):
    torch.manual_seed(0)
    attn = BertSelfAttention(32, 4, kv_width=24, attn_drop=0.3).train()
    calls = _count_sdpa(monkeypatch)
    explicit = _run(attn, *_inputs())
    assert calls == []
    attn.explicit_dropout_on_cpu = False  # as on a GPU
    fused = _run(attn, *_inputs())
    assert calls == [0.3]
    for a, b in zip(explicit, fused):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # dropout did act: an evaluation pass differs
    attn.eval()
    with torch.no_grad():
        plain = attn(*_inputs())
    assert (plain - explicit[0]).abs().max() > 1e-3


@pytest.mark.parametrize('mode', ['eval', 'no_dropout'])
def test_sdpa_without_dropout(monkeypatch, mode):
    attn = BertSelfAttention(32, 4, kv_width=24,
                             attn_drop=0.0 if mode == 'no_dropout' else 0.3)
    attn.train(mode != 'eval')
    calls = _count_sdpa(monkeypatch)
    attn(*_inputs())
    assert calls == [0.0]


def test_capture_keeps_probabilities_and_their_gradient(monkeypatch):
    from albef_mm.models.layers import AttentionCapture
    torch.manual_seed(0)
    attn = BertSelfAttention(32, 4, kv_width=24).eval()
    hidden, image, mask = _inputs()
    fused = attn(hidden, image, mask)
    calls = _count_sdpa(monkeypatch)
    with AttentionCapture(attn) as capture:
        out = attn(hidden, image, mask)
        probs = capture.attention_map
        assert probs.shape == (3, 4, 5, 9)
        torch.testing.assert_close(probs.sum(-1), torch.ones(3, 4, 5))
        assert probs[0, ..., 7:].abs().max() == 0  # masked keys
        expected, = torch.autograd.grad(out.pow(2).sum(), probs,
                                        retain_graph=True)
        out.pow(2).sum().backward()
        torch.testing.assert_close(capture.attention_grad, expected)
    assert calls == []  # the explicit path ran, not SDPA
    torch.testing.assert_close(out, fused, rtol=1e-5, atol=1e-6)
    attn(hidden, image, mask)
    assert calls == [0.0] and attn.fused_attn
    with AttentionCapture(attn) as second:  # explicit path again
        attn(hidden, image, mask)
    # the first capture's hook is gone: only the second one saw the call
    assert capture.attention_map is probs
    assert second.attention_map is not probs
