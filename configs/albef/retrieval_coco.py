# Fine-tune ALBEF on COCO (Retrieval_coco.yaml): 8 GPUs x 32, 5 epochs,
# lr 1e-5 -> 1e-6, 384 px, k_test 256.
#   tools/dist_train.sh configs/albef/retrieval_coco.py 8
_base_ = [
    '../_base_/models/albef_retrieval.py',
    '../_base_/datasets/coco_retrieval.py',
    '../_base_/schedules/albef_retrieval.py',
    '../_base_/default_runtime.py',
]
max_epochs = 5
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-5, min_lr=1e-6,
         warmup_epochs=1, max_epochs=max_epochs, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
load_from = 'checkpoints/ALBEF.pth'
# keep the checkpoint with the best val r_mean (as Retrieval.py)
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=1,
                    save_best='retrieval/r_mean', rule='greater'))
test_after_train = True
