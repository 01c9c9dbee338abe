# pretrain_14m.py streaming its 14M image-caption pairs from tar shards
# (local disk, object storage through `pipe:` commands, or img2dataset
# output) instead of json lists and an image tree on a shared filesystem.
# Write the shards once (docs/sharded_data.md):
#   python tools/dataset_converters/albef_to_shards.py json \
#       data/pretrain/coco.json data/pretrain/vg.json \
#       data/pretrain/cc12m.json data/pretrain/cc3m_train.json \
#       data/pretrain/cc3m_val.json data/pretrain/sbu.json \
#       --image-root data/images --out-dir data/pretrain_shards \
#       --per-shard 2000
# then on each of N nodes with 8 GPUs (MMEngine's torchrun variables):
#   NNODES=N NODE_RANK=i MASTER_ADDR=... \
#       tools/dist_train.sh configs/albef/pretrain_14m_shards.py 8
# Every rank x worker reads its own shards: write at least
# N x 8 x num_workers shards, ideally a multiple of that number.
_base_ = [
    '../_base_/models/albef_pretrain.py',
    '../_base_/datasets/pretrain_4m.py',
    '../_base_/schedules/albef_pretrain_30e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(
    # a streamed dataset has no sampler: it splits the shards over ranks
    # and workers itself, and ShardEpochHook gives it the epoch
    sampler=None,
    dataset=dict(
        _delete_=True,
        type='ShardedCaptionDataset',
        data_root='data/pretrain_shards/',
        # the manifest declares the samples of an epoch; for shards on
        # object storage list them instead, e.g.
        # shards='pipe:aws s3 cp s3://bucket/shard-{000000..007049}.tar -',
        # num_samples=14_100_000,
        shards='shards.json',
        # whole batches per worker, so len(dataloader) is exact
        batch_size={{_base_.train_dataloader.batch_size}},
        max_words=30,
        # web corpora have dead or corrupt images: counted and skipped
        skip_bad_samples=True,
        pipeline={{_base_.train_pipeline}}))
custom_hooks = [
    dict(type='MomentumUpdateHook'),
    dict(type='QueueUpdateHook'),
    dict(type='AlphaWarmupHook'),
    dict(type='ShardEpochHook'),
]
