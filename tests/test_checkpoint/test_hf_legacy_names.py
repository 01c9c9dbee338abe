"""TF-era BERT checkpoints name LayerNorm parameters ``gamma`` / ``beta``
(the original ``bert-base-uncased`` pytorch_model.bin does): they load into
the same parameters as ``weight`` / ``bias``."""
import torch
from transformers import BertConfig, BertForMaskedLM

from albef_mm.checkpoint import convert_hf_bert_state_dict
from albef_mm.registry import MODELS
from helpers import tiny_pretrain_model_cfg


def _legacy(state):
    return {k.replace('LayerNorm.weight', 'LayerNorm.gamma')
            .replace('LayerNorm.bias', 'LayerNorm.beta'): v
            for k, v in state.items()}


def test_gamma_beta_names_map_to_layernorm_weight_and_bias(tmp_path):
    torch.manual_seed(0)
    hf = BertForMaskedLM(BertConfig(
        vocab_size=512, hidden_size=64, num_hidden_layers=4,
        num_attention_heads=2, intermediate_size=128,
        max_position_embeddings=64))
    sd = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
          for k, v in hf.state_dict().items()}
    legacy = _legacy(sd)
    assert any(k.endswith('LayerNorm.gamma') for k in legacy)
    new, skipped = convert_hf_bert_state_dict(legacy, fusion_layer=2)
    assert not any('gamma' in k or 'beta' in k for k in new)
    # the same result as the modern names, key for key
    modern, _ = convert_hf_bert_state_dict(sd, fusion_layer=2)
    assert list(new) == list(modern)
    for key in new:
        assert torch.equal(new[key], modern[key]), key
    model = MODELS.build(tiny_pretrain_model_cfg())
    model.load_state_dict(new, strict=False)
    torch.testing.assert_close(
        model.text_backbone.embeddings.LayerNorm.weight,
        sd['bert.embeddings.LayerNorm.weight'])
    torch.testing.assert_close(model.neck.layer[1].output.LayerNorm.bias,
                               sd['bert.encoder.layer.3.output.LayerNorm.bias'])
