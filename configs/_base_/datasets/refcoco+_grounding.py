# RefCOCO+ weakly supervised grounding (ALBEF Grounding.yaml), 384 px.
# Layout (ALBEF's data.tar.gz, or
# tools/dataset_converters/refcoco_to_albef.py):
#   data/refcoco+_{train,val,test}.json      ALBEF grounding json
#   data/refcoco+/refs(unc).p, instances.json official refer annotations
#   data/refcoco+/dets.json                   MAttNet proposals
#   data/coco/images/train2014/*.jpg          COCO images
data_root = 'data/'
image_size = 384
# Grounding.py trains on whole images: a plain resize (no random crop).
train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=image_size),
    dict(type='ALBEFRandomFlip', prob=0.5),
    dict(type='RandomAugment', N=2, M=7),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'image_idx')),
]
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=image_size),
    dict(type='PackALBEFInputs',
         algorithm_keys=('text', 'ref_id', 'gt_bbox', 'proposals',
                         'ref_split', 'gt_image_size')),
]
_gt = dict(refer_root='.', refer_dataset='refcoco+', split_by='unc',
           dets_file='refcoco+/dets.json')
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'), drop_last=True,
    dataset=dict(type='RefCOCODataset', data_root=data_root,
                 data_prefix=dict(img_path='coco/images/'),
                 ann_file='refcoco+_train.json', pipeline=train_pipeline))
_eval_loader = dict(
    batch_size=32, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(
    **_eval_loader,
    dataset=dict(type='RefCOCODataset', data_root=data_root,
                 data_prefix=dict(img_path='coco/images/'),
                 ann_file='refcoco+_val.json', test_mode=True,
                 pipeline=test_pipeline, **_gt))
test_dataloader = dict(
    **_eval_loader,
    dataset=dict(type='RefCOCODataset', data_root=data_root,
                 data_prefix=dict(img_path='coco/images/'),
                 ann_file='refcoco+_test.json', test_mode=True,
                 pipeline=test_pipeline, **_gt))
val_evaluator = dict(type='GroundingAccuracy')
test_evaluator = val_evaluator
val_cfg = dict(type='GroundingValLoop')
test_cfg = dict(type='GroundingTestLoop')
