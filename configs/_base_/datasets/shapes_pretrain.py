# Shapes: the generated benchmark. Create it first with
#   python tools/dataset_converters/generate_shapes.py data/shapes
# Images are 64 px; captions name colours, shapes, sizes and positions.
dataset_type = 'PretrainCaptionDataset'
data_root = 'data/shapes/'
image_size = 64

train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    # Milder than ALBEF's scale=(0.2, 1.0): shapes sit near the border and a
    # small crop would cut them out, making the caption false.
    dict(type='ALBEFRandomResizedCrop', size=image_size, scale=(0.8, 1.0)),
    # No ALBEFRandomFlip: Shapes captions say "left"/"right", which a flip
    # would make false (ALBEF flips anyway on real data).
    # legacy_autocontrast=False: the original AutoContrast overflows and
    # turns every channel whose minimum is > 0 white, which on Shapes' noisy
    # backgrounds erases the colours the captions talk about.
    # augs: the transform's default, ALBEF's ten ops
    dict(type='RandomAugment', N=2, M=7, legacy_autocontrast=False),
    dict(type='PackALBEFInputs', algorithm_keys=('text', )),
]
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=image_size),
    dict(type='PackALBEFInputs', algorithm_keys=('text', )),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # DataSamples are not stackable; the model's data preprocessor stacks
    # the uint8 images and tokenises the texts.
    collate_fn=dict(type='pseudo_collate'),
    drop_last=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='pretrain.json',
        data_prefix=dict(img_path=''),
        max_words=30,
        pipeline=train_pipeline))
