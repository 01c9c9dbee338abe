"""Checkpoint behaviour a package-wide mutation pass found untested."""
import torch
from transformers import BertConfig, BertForMaskedLM

from albef_mm.registry import MODELS
from helpers import tiny_pretrain_model_cfg


def test_hf_bert_split_follows_the_text_backbone_depth(tmp_path):
    """1 text layer + 2 fusion layers: BERT layer 0 -> text backbone,
    layers 1 and 2 -> fusion layers 0 and 1 (the split is the text
    backbone's depth, not the neck's)."""
    torch.manual_seed(0)
    hf = BertForMaskedLM(BertConfig(
        vocab_size=512, hidden_size=64, num_hidden_layers=3,
        num_attention_heads=2, intermediate_size=128,
        max_position_embeddings=64))
    hf.save_pretrained(tmp_path / 'bert')
    cfg = tiny_pretrain_model_cfg()
    cfg['text_backbone']['num_layers'] = 1
    cfg['neck']['num_layers'] = 2
    cfg['pretrained_text'] = str(tmp_path / 'bert')
    model = MODELS.build(cfg)
    model.init_weights()
    sd = hf.state_dict()
    torch.testing.assert_close(
        model.text_backbone.layer[0].output.dense.weight,
        sd['bert.encoder.layer.0.output.dense.weight'])
    for i in (0, 1):
        torch.testing.assert_close(
            model.neck.layer[i].attention.self.query.weight,
            sd[f'bert.encoder.layer.{i + 1}.attention.self.query.weight'])
