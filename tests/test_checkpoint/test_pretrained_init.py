"""Initialisation from HF BERT and DeiT/timm ViT checkpoints."""
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from albef_mm.registry import MODELS
from helpers import tiny_pretrain_model_cfg


def test_hf_bert_weights_load_by_name(tmp_path):
    torch.manual_seed(0)
    hf = BertForMaskedLM(BertConfig(
        vocab_size=512, hidden_size=64, num_hidden_layers=4,
        num_attention_heads=2, intermediate_size=128,
        max_position_embeddings=64))
    hf.save_pretrained(tmp_path / 'bert')
    cfg = tiny_pretrain_model_cfg()
    cfg['pretrained_text'] = str(tmp_path / 'bert')
    model = MODELS.build(cfg)
    model.init_weights()
    sd = hf.state_dict()
    # layers 0-1 -> text backbone, 2-3 -> fusion neck, cls -> MLM head
    torch.testing.assert_close(
        model.text_backbone.layer[1].attention.self.query.weight,
        sd['bert.encoder.layer.1.attention.self.query.weight'])
    torch.testing.assert_close(
        model.neck.layer[0].output.dense.weight,
        sd['bert.encoder.layer.2.output.dense.weight'])
    torch.testing.assert_close(
        model.mlm_head.predictions.transform.dense.weight,
        sd['cls.predictions.transform.dense.weight'])
    torch.testing.assert_close(
        model.text_backbone.embeddings.word_embeddings.weight,
        sd['bert.embeddings.word_embeddings.weight'])
    # momentum branch copied from the online weights
    assert torch.equal(model.neck_m.layer[1].output.dense.weight,
                       model.neck.layer[1].output.dense.weight)
    # a mis-shaped BERT is refused with the key named
    cfg['text_backbone']['intermediate_size'] = 256
    cfg['neck']['intermediate_size'] = 256
    with pytest.raises(ValueError, match='intermediate.dense.weight'):
        MODELS.build(cfg).init_weights()


def test_missing_bert_weights_name_the_path(tmp_path):
    cfg = tiny_pretrain_model_cfg()
    cfg['pretrained_text'] = str(tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        MODELS.build(cfg).init_weights()


def test_fresh_cross_attention_is_reported(tmp_path, capsys):
    from albef_mm.checkpoint import load_hf_bert
    hf = BertForMaskedLM(BertConfig(
        vocab_size=512, hidden_size=64, num_hidden_layers=4,
        num_attention_heads=2, intermediate_size=128,
        max_position_embeddings=64))
    hf.save_pretrained(tmp_path / 'bert')
    model = MODELS.build(tiny_pretrain_model_cfg())
    report = load_hf_bert(model, str(tmp_path / 'bert'))
    # 2 fusion layers x (q, k, v, dense weight+bias, LayerNorm) = 20 tensors
    assert len(report['fresh']) == 20
    assert all('.crossattention.' in k for k in report['fresh'])


def test_deit_style_vit_checkpoint_interpolates_and_drops_head(tmp_path):
    cfg = tiny_pretrain_model_cfg()['vision_backbone']
    src = MODELS.build(dict(cfg, img_size=32))  # 2x2 grid
    state = {k: v for k, v in src.state_dict().items()}
    state['head.weight'] = torch.zeros(10, 64)
    path = tmp_path / 'deit.pth'
    torch.save({'model': state}, path)
    vit = MODELS.build(dict(cfg, pretrained=str(path)))
    vit.init_weights()
    assert vit.pos_embed.shape == (1, 17, 64)
    torch.testing.assert_close(vit.pos_embed[:, 0], src.pos_embed[:, 0])
    torch.testing.assert_close(vit.blocks[1].mlp.fc2.weight,
                               src.blocks[1].mlp.fc2.weight)
    del state['norm.weight']
    torch.save({'model': state}, path)
    with pytest.raises(KeyError, match='norm.weight'):
        MODELS.build(dict(cfg, pretrained=str(path))).init_weights()


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
