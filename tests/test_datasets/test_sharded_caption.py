"""ShardedCaptionDataset: Shapes written as tar shards, split over 2 gloo
processes x 2 workers, seeded order, bad members and shards, exact resume;
the shard converter (ALBEF json and img2dataset output)."""
import io
import json
import os.path as osp
import socket
import sys
import tarfile
import types

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from albef_mm.datasets import (ShardedCaptionDataset, ShardError,
                               generate_shapes)
from albef_mm.datasets import sharded_caption
from albef_mm.datasets.transforms.loading import ImageLoadError
from albef_mm.engine.hooks import ShardEpochHook
from helpers.tiny import REPO_ROOT

# the converter lives in tools/
sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
from albef_to_shards import index_img2dataset, json_to_shards  # noqa: E402

PIPELINE = [dict(type='LoadRGBImageFromFile'),
            dict(type='ALBEFResize', size=32),
            dict(type='PackALBEFInputs', algorithm_keys=('text', ))]
NUM = 40  # Shapes pre-training records; 8 shards of 5


@pytest.fixture(scope='module')
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp('sharded')
    data = str(root / 'shapes')
    generate_shapes(data, num_train=NUM, num_val=2, num_test=2)
    out = str(root / 'shards')
    manifest = json_to_shards([osp.join(data, 'pretrain.json')], data, out,
                              per_shard=5)
    assert manifest['num_samples'] == NUM and len(manifest['shards']) == 8
    return osp.join(out, 'shards.json')


def _keys(dataset, workers=2, batch=4):
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers,
                        collate_fn=pseudo_collate)
    keys = [s.img_path for b in loader for s in b['data_samples']]
    assert len(loader) * batch == len(keys)  # len() is what an epoch has
    return keys


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_main(rank, port, manifest, out):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    try:
        # 20 samples per rank = 4 batches of 5 = 2 per worker = its 2 shards
        ds = ShardedCaptionDataset(manifest, batch_size=5, pipeline=PIPELINE)
        ds.set_epoch(1)
        with open(f'{out}.{rank}', 'w') as f:
            json.dump(_keys(ds, workers=2, batch=5), f)
    finally:
        dist.destroy_process_group()


def test_two_ranks_two_workers_see_every_sample_once(shards, tmp_path):
    out = str(tmp_path / 'keys')
    mp.start_processes(_rank_main, args=(_free_port(), shards, out),
                       nprocs=2, start_method='spawn')
    ranks = [json.load(open(f'{out}.{r}')) for r in range(2)]
    seen = ranks[0] + ranks[1]
    assert len(seen) == NUM and len(set(seen)) == NUM
    # ranks read disjoint shards
    assert not ({k.split('#')[0] for k in ranks[0]} &
                {k.split('#')[0] for k in ranks[1]})


def test_order_is_seeded_and_changes_with_seed_and_epoch(shards):
    def order(seed, epoch):
        ds = ShardedCaptionDataset(shards, seed=seed, pipeline=PIPELINE)
        ds.set_epoch(epoch)
        keys = [s['data_samples'].img_path for s in ds]
        assert len(set(keys)) == NUM
        return keys
    first = order(0, 0)
    assert first == order(0, 0)
    assert first != order(1, 0)
    assert first != order(0, 1)
    # within-shard order is shuffled too, not only the shard order
    assert [k.split('#')[1] for k in first[:5]] != sorted(
        k.split('#')[1] for k in first[:5])


def test_len_is_whole_batches_per_rank(shards):
    ds = ShardedCaptionDataset(shards, batch_size=6, pipeline=PIPELINE)
    assert len(ds) == 36
    assert [ds.worker_share(w, 4) for w in range(4)] == [12, 12, 6, 6]
    keys = _keys(ds, workers=2, batch=6)
    assert len(keys) == 36 and len(set(keys)) == 36


def test_short_shards_are_read_again_to_fill_the_epoch(shards):
    ds = ShardedCaptionDataset(shards, num_samples=2 * NUM,
                               pipeline=PIPELINE)
    keys = _keys(ds, workers=0, batch=4)
    assert len(keys) == 2 * NUM and len(set(keys)) == NUM


@pytest.mark.parametrize('consumed', [3, 4])
def test_resume_continues_the_epoch_exactly(shards, consumed):
    full = _keys(_ds(shards), workers=2)
    ds = _ds(shards)
    ds.set_epoch(0, consumed_batches=consumed)
    assert _keys_tail(ds) == full[4 * consumed:]


def _ds(shards, **kw):
    return ShardedCaptionDataset(shards, batch_size=4, pipeline=PIPELINE,
                                 **kw)


def _keys_tail(ds):
    loader = DataLoader(ds, batch_size=4, num_workers=2,
                        collate_fn=pseudo_collate)
    return [s.img_path for b in loader for s in b['data_samples']]


def test_too_few_shards_for_the_readers(shards):
    ds = _ds(shards)
    with pytest.raises(ShardError, match=r'8 shard\(s\) cannot be split '
                       r'over 16 readers'):
        ds.reader_shards(0, 0, 16)


def _tar(path, members):
    with tarfile.open(path, 'w') as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _jpeg():
    from PIL import Image
    buf = io.BytesIO()
    Image.new('RGB', (8, 8), (255, 0, 0)).save(buf, format='JPEG')
    return buf.getvalue()


@pytest.fixture
def bad_shard(tmp_path):
    path = str(tmp_path / 'bad.tar')
    _tar(path, [('a.jpg', _jpeg()), ('a.txt', b'a red square'),
                ('b.jpg', b'not a jpeg'), ('b.txt', b'a broken image'),
                ('c.jpg', _jpeg()),  # no caption
                ('d.jpg', _jpeg()), ('d.json', b'{"caption": ["a red '
                                                b'one", "red square"]}')])
    return path


def test_corrupt_members_are_skipped_counted_and_named(bad_shard,
                                                       monkeypatch):
    logged = []
    monkeypatch.setattr(sharded_caption, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    ds = ShardedCaptionDataset(bad_shard, num_samples=2, shuffle=False,
                               pipeline=PIPELINE, skip_bad_samples=True)
    samples = list(ds)
    assert [s['data_samples'].img_path for s in samples] == [
        f'{bad_shard}#a', f'{bad_shard}#d']
    assert ds.num_skipped == 2
    assert samples[1]['data_samples'].text in ('a red one', 'red square')
    assert 'bad.tar, key b: cannot decode' in logged[0]
    assert 'bad.tar, key c: no caption member' in logged[1]


@pytest.mark.parametrize('num,error,match', [
    (2, ImageLoadError, r'bad\.tar, key b: cannot decode'),
    (3, ShardError, r'nocap\.tar, key c: no caption member'),
])
def test_corrupt_member_raises_without_skip(bad_shard, tmp_path, num, error,
                                            match):
    path = bad_shard
    if num == 3:  # a shard whose only bad member is the caption-less one
        path = str(tmp_path / 'nocap.tar')
        _tar(path, [('a.jpg', _jpeg()), ('a.txt', b'red'),
                    ('c.jpg', _jpeg())])
    ds = ShardedCaptionDataset(path, num_samples=num, shuffle=False,
                               pipeline=PIPELINE)
    with pytest.raises(error, match=match):
        list(ds)


def test_unreadable_shard_is_named(tmp_path):
    missing = str(tmp_path / 'gone-000.tar')
    with pytest.raises(ShardError, match=r'shard .*gone-000\.tar cannot '
                       'be read'):
        list(ShardedCaptionDataset(missing, num_samples=1))
    garbage = str(tmp_path / 'garbage.tar')
    with open(garbage, 'wb') as f:
        f.write(b'\x00garbage' * 100)
    ds = ShardedCaptionDataset([garbage, missing], num_samples=1,
                               skip_bad_samples=True, shuffle=False)
    with pytest.raises(ShardError, match='no readable sample'):
        list(ds)
    assert ds.num_skipped == 2


def test_pipe_url_and_brace_pattern(shards):
    folder = osp.dirname(shards)
    pattern = osp.join(folder, 'shard-{000000..000001}.tar')
    ds = ShardedCaptionDataset(pattern, num_samples=10, pipeline=PIPELINE)
    assert len(ds.urls) == 2
    assert len(set(_keys(ds, workers=2, batch=5))) == 10
    piped = ShardedCaptionDataset(
        f'pipe:cat {osp.join(folder, "shard-000003.tar")}', num_samples=5,
        pipeline=PIPELINE, shuffle=False)
    assert [s['data_samples'].img_path.split('#')[1] for s in piped] == [
        f'{i:09d}' for i in range(15, 20)]


def test_num_samples_needed_without_a_manifest(shards):
    pattern = osp.join(osp.dirname(shards), 'shard-000000.tar')
    with pytest.raises(ShardError, match='give num_samples'):
        ShardedCaptionDataset(pattern)


def test_converter_refuses_to_overwrite_and_names_a_missing_image(
        shards, tmp_path):
    data = osp.join(osp.dirname(osp.dirname(shards)), 'shapes')
    ann = osp.join(data, 'pretrain.json')
    with pytest.raises(FileExistsError, match='shards.json exists'):
        json_to_shards([ann], data, osp.dirname(shards))
    bad = str(tmp_path / 'bad.json')
    with open(bad, 'w') as f:
        json.dump([{'image': 'nope.jpg', 'caption': 'x'}], f)
    with pytest.raises(FileNotFoundError, match=r'bad\.json, record 0: '
                       'image .*nope.jpg not found'):
        json_to_shards([bad], data, str(tmp_path / 'out'))
    got = json_to_shards([bad, ann], data, str(tmp_path / 'out2'),
                         per_shard=100, skip_missing=True)
    assert (got['num_samples'], got['num_skipped']) == (NUM, 1)


def test_img2dataset_output_is_indexed_in_place(tmp_path):
    folder = tmp_path / 'laion'
    folder.mkdir()
    for i, n in enumerate((2, 3)):
        _tar(str(folder / f'{i:05d}.tar'), [
            m for k in range(n) for m in (
                (f'{i:05d}{k:04d}.jpg', _jpeg()),
                (f'{i:05d}{k:04d}.json', b'{"caption": "red"}'),
                (f'{i:05d}{k:04d}.txt', b'red'))])
    (folder / '00000_stats.json').write_text('{"successes": 2}')
    # 00001 has no stats file: counted by reading it
    manifest = index_img2dataset(str(folder))
    assert manifest['num_samples'] == 5
    ds = ShardedCaptionDataset(str(folder / 'shards.json'),
                               pipeline=PIPELINE)
    assert len({s['data_samples'].img_path for s in ds}) == 5


class _Loader:
    def __init__(self, dataset, batch_size, batches):
        self.dataset, self.batch_size, self.batches = (dataset, batch_size,
                                                       batches)

    def __len__(self):
        return self.batches


def test_shard_epoch_hook_sets_the_epoch_and_a_resumed_position(shards):
    ds = _ds(shards)
    hook = ShardEpochHook()
    runner = types.SimpleNamespace(train_dataloader=_Loader(ds, 4, 10),
                                   epoch=3, iter=30)
    hook.before_train(runner)  # batch sizes agree
    hook.before_train_epoch(runner)  # an epoch starts at iteration 30
    assert (ds.epoch, ds._consumed.value) == (3, 0)
    runner.iter = 37  # resumed from a checkpoint of iteration 37
    hook.before_train_epoch(runner)
    assert (ds.epoch, ds._consumed.value) == (3, 7)
    runner.train_dataloader.batch_size = 8
    with pytest.raises(ValueError, match='train_dataloader.batch_size is 8 '
                       'but its dataset deals out batches of 4'):
        hook.before_train(runner)


def test_every_rank_and_worker_reads_its_own_shards(shards):
    ds = _ds(shards)
    ds.world_size = 2
    for epoch in (0, 1):
        parts = []
        for ds.rank in (0, 1):
            parts += [set(ds.reader_shards(epoch, w, 2)) for w in (0, 1)]
        assert all(len(p) == 2 for p in parts)
        assert set().union(*parts) == set(ds.urls)  # disjoint, complete
    # the assignment itself changes with the epoch, not only the order
    ds.rank = 0
    assert set(ds.reader_shards(0, 0, 2)) != set(ds.reader_shards(1, 0, 2))
