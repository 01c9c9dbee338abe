# ALBEF pre-training on the 14M corpus (COCO, VG, CC3M, SBU + CC12M):
# 8 GPUs x 64, 30 epochs, AdamW 1e-4 -> 1e-5, queue 65536, alpha 0.4, 256 px.
#   tools/dist_train.sh configs/albef/pretrain_14m.py 8
# Needs: data/pretrain/*.json (paths rewritten to your copies), DeiT-B/16
# weights (downloaded on first use, or set
# model.vision_backbone.pretrained to a local file) and bert-base-uncased
# (a local directory or the hub name).
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/datasets/pretrain_4m.py',
    '../_base_/schedules/albef_pretrain_30e.py',
    '../_base_/default_runtime.py',
]
# the 4M files + CC12M
train_dataloader = dict(dataset=dict(ann_file=[
    'coco.json', 'vg.json', 'cc12m.json', 'cc3m_train.json', 'cc3m_val.json',
    'sbu.json'
]))
