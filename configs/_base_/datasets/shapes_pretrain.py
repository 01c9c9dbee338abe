# Shapes: the generated benchmark. Create it first with
#   python tools/dataset_converters/generate_shapes.py data/shapes
# Images are 64 px; captions name colours, shapes, sizes and positions.
# pretrain.json lists the 2,000 train images and the generator's
# pre-training-only images (--num-pretrain-extra, default 14,000).
dataset_type = 'PretrainCaptionDataset'
data_root = 'data/shapes/'
image_size = 64

train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    # No crop, no flip and only the photometric ops that keep every caption
    # true: crops cut shapes near the border and stretch squares and circles
    # (aspect jitter); flips, translations, rotations and shears move or
    # distort what the captions say ("on the left", "a square"); AutoContrast
    # / Equalize / Color / Posterize / Solarize shift the hues the captions
    # name. Shapes needs no more: the generator gives fresh images instead
    # (ALBEF's crop + flip + ten ops fit real photos, not this world).
    dict(type='ALBEFResize', size=image_size),
    dict(type='RandomAugment', N=2, M=7, legacy_autocontrast=False,
         augs=('Identity', 'Brightness', 'Sharpness')),
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
