# Fine-tune ALBEF on NLVR2 (NLVR.yaml): 8 GPUs x 16, 10 epochs, AdamW
# lr 2e-5 (staircase warm-up from 1e-5 over the first 100 iterations, then
# per-epoch cosine to 1e-6), alpha ramped to 0.4 over epoch 0, 384 px.
#   tools/dist_train.sh configs/albef/nlvr2.py 8
# load_from: the text-assignment checkpoint of the 14M model (the paper's
# 14M row: dev 82.55 / test-P 83.14): the released pretrain_model_nlvr.pth,
# or work_dirs/nlvr2_ta_pretrain/epoch_1.pth of configs/albef/
# nlvr2_ta_pretrain.py. nlvr2_4m.py is the 4M row. The momentum branch is
# copied from the loaded weights (the original copied it before loading,
# leaving its teacher random); for the original's exact trajectory:
#   --cfg-options model.momentum_copy_before_load=True
# The checkpoint with the best dev accuracy is kept and, after training,
# tested on test-P (as NLVR.py reads the test figure of the best dev epoch);
# the log names the weights and the split of every test figure. Test a
# finished run again:  python tools/test.py configs/albef/nlvr2.py \
#          work_dirs/nlvr2/best_accuracy_acc_epoch_N.pth
_base_ = [
    '../_base_/models/albef_nlvr2.py',
    '../_base_/datasets/nlvr2.py',
    '../_base_/default_runtime.py',
]
load_from = 'checkpoints/pretrain_model_nlvr.pth'

max_epochs = 10
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
