# pretrain_shapes_tiny.py reading tar shards instead of the json list and
# the image folder (what a web-scale run does; see docs/sharded_data.md).
#   python tools/dataset_converters/generate_shapes.py data/shapes
#   python tools/dataset_converters/albef_to_shards.py json \
#       data/shapes/pretrain.json --image-root data/shapes \
#       --out-dir data/shapes/shards --per-shard 500
#   python tools/train.py configs/albef/pretrain_shapes_tiny_shards.py
_base_ = ['./pretrain_shapes_tiny.py']

# A streamed dataset has no sampler: the shards are split over ranks and
# workers by the dataset, and ShardEpochHook gives it the epoch.
train_dataloader = dict(
    sampler=None,
    dataset=dict(
        _delete_=True,
        type='ShardedCaptionDataset',
        data_root='data/shapes/',
        # the manifest declares the sample count of an epoch
        shards='shards/shards.json',
        # whole batches per worker, so len(dataloader) is exact
        batch_size={{_base_.train_dataloader.batch_size}},
        max_words=30,
        pipeline={{_base_.train_pipeline}}))
custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='QueueUpdateHook'),
    dict(type='AlphaWarmupHook'),
    dict(type='ShardEpochHook'),
]
