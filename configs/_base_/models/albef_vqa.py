# ALBEF VQA model: the shared encoders at 384 px fuse image + question; a
# 6-layer answer decoder (causal self-attention, cross-attention to the
# fused question states, LM head tied to its word embeddings) initialised
# from the pre-trained fusion layers, embeddings and MLM head; answers are
# ranked over the answer list (top k_test=128 by the first token, then the
# full likelihood). Momentum distillation of the answer loss (alpha 0.4).
_base_ = ['./albef_encoders.py']
model = dict(
    type='ALBEFVQA',
    # VQA.py: training questions padding 'longest', truncation, 25 tokens;
    # test questions are re-tokenised without truncation by the model.
    data_preprocessor=dict(max_length=25, truncation=True),
    vision_backbone=dict(img_size=384),
    decoder_head=dict(
        type='VQADecoderHead', vocab_size=30522, hidden_size=768,
        num_layers=6, num_heads=12, intermediate_size=3072,
        max_position_embeddings=512, hidden_dropout=0.1, attn_dropout=0.1),
    answer_list='data/vqa/answer_list.json',
    k_test=128,
    score='original',
    eos='[SEP]',
    distill=True,
)

# the answer loss uses the momentum branch (EMA before each step) and the
# distillation weight ramps up during epoch 0 (VQA.yaml warm_up: True);
# no feature queue in VQA. VQAAnswerCoverageHook warns at evaluation start
# when the answer list lacks the ground-truth answers of questions.
custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='AlphaWarmupHook'),
    dict(type='VQAAnswerCoverageHook'),
]
