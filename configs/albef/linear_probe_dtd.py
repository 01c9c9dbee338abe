# Linear probe on DTD (split 1): logistic regression on frozen ALBEF image
# features, trained on train1, weight decay chosen on val1 (then refit on
# train1 + val1), accuracy on test1.
#   python tools/analysis/linear_probe.py configs/albef/linear_probe_dtd.py \
#       ALBEF_4M.pth [--feature proj]
# The features of each split are cached in WORK_DIR/feature_cache/.
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/datasets/dtd.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ALBEFZeroShotClassifier',
    vision_backbone=dict(pretrained=None),
    pretrained_text=None)

linear_probe = dict(
    feature='cls',  # 'cls': ViT CLS token (768); 'proj': ITC feature (256)
    weight_decays=[1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    max_iter=1000,
    topk=(1, 5))

train_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='DTDDataset', data_root='data/dtd/', split='train',
                 fold=1, pipeline={{_base_.test_pipeline}}))
val_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='DTDDataset', data_root='data/dtd/', split='val',
                 fold=1, pipeline={{_base_.test_pipeline}}))
