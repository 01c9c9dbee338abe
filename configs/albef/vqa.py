# Fine-tune ALBEF on VQA v2 train + val + Visual Genome QA (VQA.yaml):
# 8 GPUs x 32, 8 epochs, 384 px, k_test 128, AdamW lr 2e-5 (wd 0.02);
# lr 1e-5 at the first iteration, staircase warm-up over 4 x 100
# iterations to 2e-5, then per-epoch cosine to 1e-6.
#   tools/dist_train.sh configs/albef/vqa.py 8
# The test split has no answers: tools/test.py writes the result file for
# the EvalAI server (test-dev / test-std).
# init_from_pretrain: a pre-training checkpoint, original (ALBEF.pth /
# ALBEF_4M.pth) or albef_mm format; the decoder is initialised from its
# fusion layers, embeddings and MLM head, position embeddings are
# interpolated 256 -> 384 px.
_base_ = [
    '../_base_/models/albef_vqa.py',
    '../_base_/datasets/vqa.py',
    '../_base_/default_runtime.py',
]
# init_from_pretrain: the 14M file (the paper's 14M row: test-dev 75.84 /
# test-std 76.04); vqa_4m.py is the 4M row.
# answer_list: ALBEF's released answer_list.json (3,128 answers: the
# standard 3,129-answer vocabulary without its empty answer); a different
# list is reported by VQAReleasedAnswerListHook (the model answers only
# from this list).
model = dict(init_from_pretrain='checkpoints/ALBEF.pth',
             answer_list='data/vqa/answer_list.json')
custom_imports = dict(
    imports=['albef_mm.evaluation.metrics.vqa_answer_list'],
    allow_failed_imports=False)
custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='AlphaWarmupHook'),
    dict(type='VQAAnswerCoverageHook'),
    dict(type='VQAReleasedAnswerListHook'),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.02),
    constructor='ALBEFOptimWrapperConstructor')
max_epochs = 8
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-5, min_lr=1e-6,
         warmup_epochs=4, step_size=100, max_epochs=max_epochs,
         by_epoch=True, convert_to_iter_based=True, begin=0,
         end=max_epochs)
]
# VQA.py has no validation: it trains, saves every epoch and writes the
# test result file at the end.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
test_after_train = True
