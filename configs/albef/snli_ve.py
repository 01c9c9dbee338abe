# Fine-tune ALBEF on SNLI-VE (VE.yaml): 8 GPUs x 32, 5 epochs, AdamW
# lr 2e-5 (staircase warm-up from 1e-5 over the first 100 iterations, then
# per-epoch cosine to 1e-6), alpha 0.4 without warm-up, 384 px.
#   tools/dist_train.sh configs/albef/snli_ve.py 8
# load_from: the 14M pre-training checkpoint (the paper's 14M row: val
# 80.80 / test 80.91); snli_ve_4m.py starts from ALBEF_4M.pth (4M row).
# Original or albef_mm format; position embeddings are interpolated
# 256 -> 384 px.
# The checkpoint with the best val accuracy is kept and, after training,
# tested on the test split (as VE.py reads the test figure of the best val
# epoch); the log names the weights and the split of every test figure.
# Test a finished run again:  python tools/test.py configs/albef/snli_ve.py \
#               work_dirs/snli_ve/best_accuracy_acc_epoch_N.pth
_base_ = [
    '../_base_/models/albef_snli_ve.py',
    '../_base_/datasets/snli_ve.py',
    '../_base_/default_runtime.py',
]
load_from = 'checkpoints/ALBEF.pth'  # 14M

max_epochs = 5
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.02),
    constructor='ALBEFOptimWrapperConstructor')
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-5, min_lr=1e-6,
         warmup_epochs=1, max_epochs=max_epochs, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_best='accuracy/acc',
                    rule='greater'))
test_after_train = True
