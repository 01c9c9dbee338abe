# Flickr30K Karpathy splits in ALBEF's format (data.tar.gz of the ALBEF
# README, or tools/dataset_converters/karpathy_to_albef.py):
#   data/flickr30k/flickr30k_{train,val,test}.json
#   data/flickr30k/flickr30k-images/*.jpg
data_root = 'data/flickr30k/'
image_size = 384
train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFRandomResizedCrop', size=image_size, scale=(0.5, 1.0)),
    dict(type='ALBEFRandomFlip', prob=0.5),
    # augs: the transform's default, ALBEF's ten ops (no colour
    # ops: captions name colours)
    dict(type='RandomAugment', N=2, M=7),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'image_idx')),
]
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=image_size),
    dict(type='PackALBEFInputs', algorithm_keys=('text', 'image_idx')),
]
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'), drop_last=True,
    dataset=dict(type='RetrievalDataset', data_root=data_root,
                 ann_file='flickr30k_train.json', max_words=30,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='RetrievalDataset', data_root=data_root,
                 ann_file='flickr30k_val.json', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='RetrievalDataset', data_root=data_root,
                 ann_file='flickr30k_test.json', test_mode=True,
                 pipeline=test_pipeline))
val_evaluator = dict(type='RetrievalRecall')
test_evaluator = val_evaluator
val_cfg = dict(type='RetrievalValLoop', k_test=128)
test_cfg = dict(type='RetrievalTestLoop', k_test=128)
