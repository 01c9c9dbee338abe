# ALBEF 4M pre-training corpus (COCO + VG + CC3M + SBU), recipe of
# configs/Pretrain.yaml without CC12M (also the TA pre-training data).
# Annotations: json_pretrain.zip from the ALBEF README, unpacked to
# data/pretrain/. Each file is a list of {"image": path, "caption": str or
# list}. The released image paths are absolute paths of the authors'
# machines: map their prefixes to your copies with the dataset's
# ``path_map``, set in a small config of yours that inherits this one:
#   train_dataloader = dict(dataset=dict(path_map={
#       '/export/share/datasets/vision/coco/images/': '/data/coco/'}))
# (--cfg-options passes a dict value as a string), rewrite the files, or
# make the paths relative to data_prefix['img_path'].
dataset_type = 'PretrainCaptionDataset'
data_root = 'data/pretrain/'
image_size = 256

train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFRandomResizedCrop', size=image_size, scale=(0.2, 1.0)),
    dict(type='ALBEFRandomFlip', prob=0.5),
    # augs: the transform's default, ALBEF's ten ops (no colour
    # ops: captions name colours)
    dict(type='RandomAugment', N=2, M=7),
    dict(type='PackALBEFInputs', algorithm_keys=('text', )),
]
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=image_size),
    dict(type='PackALBEFInputs', algorithm_keys=('text', )),
]

train_dataloader = dict(
    batch_size=64,  # per GPU; 8 GPUs in the original (global 512)
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    drop_last=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=[
            'coco.json', 'vg.json', 'cc3m_train.json', 'cc3m_val.json',
            'sbu.json'
        ],
        data_prefix=dict(img_path=''),
        max_words=30,
        # Web corpora have dead/corrupt files: skip them (counted in
        # dataset.num_skipped) instead of stopping a multi-day run.
        skip_bad_samples=True,
        pipeline=train_pipeline))
