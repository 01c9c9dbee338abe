# ALBEF pre-training on the 4M corpus (COCO, VG, CC3M, SBU): 8 GPUs x 64,
# 30 epochs, AdamW 1e-4 -> 1e-5, queue 65536, alpha 0.4, 256 px.
#   tools/dist_train.sh configs/albef/pretrain_4m.py 8
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/datasets/pretrain_4m.py',
    '../_base_/schedules/albef_pretrain_30e.py',
    '../_base_/default_runtime.py',
]
