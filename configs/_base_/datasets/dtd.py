# DTD (Describable Textures, 47 classes), read from the released folder
#   data/dtd/images/<class>/*.jpg, data/dtd/labels/{train,val,test}{1..10}.txt
# Split 1 (`fold`), as the usual zero-shot / linear-probe benchmark tables.
data_root = 'data/dtd/'
image_size = 256
fold = 1
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=image_size),
    dict(type='PackALBEFInputs', algorithm_keys=('gt_label', )),
]
cls_loader = dict(
    batch_size=64, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))
cls_dataset = dict(type='DTDDataset', data_root=data_root, fold=fold,
                   pipeline=test_pipeline, test_mode=True)
test_dataloader = dict(**cls_loader, dataset=dict(**cls_dataset,
                                                  split='test'))
test_evaluator = dict(type='ClassificationAccuracy', topk=(1, 5))
test_cfg = dict(type='TestLoop')
