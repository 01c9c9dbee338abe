# NLVR2 in ALBEF's format (data.tar.gz of the ALBEF README, or
# tools/dataset_converters/nlvr2_to_albef.py from the official jsonl):
#   data/nlvr2/nlvr_{train,dev,test}.json   [{images: [p0, p1], sentence,
#                                             label: 'True' | 'False'}]
#   data/nlvr2/<p0>, <p1>                   the image paths of the records
# test = test-P (test1).
data_root = 'data/nlvr2/'
image_size = 384
# Each transform acts on both images of a pair with its own random draws.
train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFRandomResizedCrop', size=image_size, scale=(0.5, 1.0)),
    dict(type='ALBEFRandomFlip', prob=0.5),
    dict(type='RandomAugment', N=2, M=7),  # ALBEF's ten ops (default)
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'gt_label')),
]
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=image_size),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'gt_label')),
]
_dataset = dict(type='NLVR2Dataset', data_root=data_root,
                data_prefix=dict(img_path=''), max_words=30)
# NLVR.yaml: batch 16 per GPU for every split
_loader = dict(batch_size=16, num_workers=4, persistent_workers=True,
               pin_memory=True, collate_fn=dict(type='pseudo_collate'))
train_dataloader = dict(
    **_loader, sampler=dict(type='DefaultSampler', shuffle=True),
    drop_last=True,
    dataset=dict(**_dataset, ann_file=['nlvr_train.json'],
                 pipeline=train_pipeline))
val_dataloader = dict(
    **_loader, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file=['nlvr_dev.json'],
                 pipeline=test_pipeline))
test_dataloader = dict(
    **_loader, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file=['nlvr_test.json'],
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy')
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
