# SNLI-VE in ALBEF's format (data.tar.gz of the ALBEF README, or
# tools/dataset_converters/snli_ve_to_albef.py from the official jsonl):
#   data/snli_ve/ve_{train,dev,test}.json   [{image: Flickr30K id, sentence,
#                                             label}]
#   data/snli_ve/flickr30k-images/<id>.jpg
data_root = 'data/snli_ve/'
image_size = 384
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
_dataset = dict(type='SNLIVEDataset', data_root=data_root,
                data_prefix=dict(img_path='flickr30k-images'), max_words=30)
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'), drop_last=True,
    dataset=dict(**_dataset, ann_file='ve_train.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(**_dataset, ann_file='ve_dev.json', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(**_dataset, ann_file='ve_test.json',
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy')
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
