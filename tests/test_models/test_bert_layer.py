"""The BERT layer stack of the text encoder, fusion neck and answer
decoder (albef_mm/models/layers/bert_layer.py): cross-attention to a list
of images, and the causal mask."""
import torch

from albef_mm.models.layers import BertLayerStack, causal_additive_mask


H = -10000.0  # the original's additive value for hidden keys


def test_layer_stack_cycles_image_list_layer_by_layer():
    """Layer i attends to element i mod len(list) (NLVR2: even layers to
    image 0, odd layers to image 1)."""
    torch.manual_seed(0)
    stack = BertLayerStack(4, cross_attention=True, hidden_size=16,
                           num_heads=2, intermediate_size=32,
                           encoder_width=8, hidden_dropout=0.,
                           attn_dropout=0.).eval()
    text = torch.randn(2, 5, 16)
    image0, image1 = torch.randn(2, 7, 8), torch.randn(2, 3, 8)
    out = stack(text, None, [image0, image1])
    expected = text
    for i, layer in enumerate(stack.layer):
        expected = layer(expected, None, (image0, image1)[i % 2])
    torch.testing.assert_close(out, expected)
    swapped = stack(text, None, [image1, image0])
    assert (swapped - out).abs().max() > 1e-3


def test_causal_additive_mask_hand_computed():
    mask = torch.tensor([[1, 1, 0]])
    out = causal_additive_mask(mask, torch.float32)
    expected = torch.tensor([[0, H, H], [0, 0, H], [0, 0, H]])
    assert out.shape == (1, 1, 3, 3)
    torch.testing.assert_close(out[0, 0], expected)
