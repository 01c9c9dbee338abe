"""Data-pipeline benchmark of a config: samples/s of one DataLoader worker
and the main process's cost per batch, to size ``num_workers`` for a GPU.

Usage:
    python tools/analysis/benchmark_pipeline.py CONFIG [--split train]
        [--samples 200] [--warmup 5] [--batch-size B] [--batches 20]
        [--synthetic N] [--image-size W H] [--synthetic-dir DIR]
        [--shards] [--tokenizer PATH] [--target-samples-per-s S]
        [--device cpu]
        [--cfg-options k=v ...] [--json OUT.json]

``dataset[i]`` of ``<split>_dataloader.dataset`` (file read, decode,
transforms) is timed with a DataLoader worker's threads (one torch thread,
OpenCV's ``env_cfg`` count); ``collate_fn`` runs in the worker too: one
worker gives ``1 / (time per sample + collate time / batch size)``
samples/s. The data preprocessor (``cfg.model.data_preprocessor`` alone,
not the model) runs in the training process: its tokenisation is timed
alone and with the images' stacking and normalisation. Files read here are
mostly in the page cache; cold network reads are slower.

``--shards`` (with ``--synthetic``, PretrainCaptionDataset) also writes
the images as tar shards and times one worker streaming them through the
same transforms (``ShardedCaptionDataset``), beside ``dataset[i]`` of the
json + image folder.

``--synthetic N`` (PretrainCaptionDataset, RetrievalDataset) writes N JPEGs
of ``--image-size`` (default 640x480 as COCO, of about COCO's file size and
decoding cost) and their annotations, for configs whose data are absent.
A tokenizer that cannot be loaded (``bert-base-uncased`` offline and not
cached) is reported and tokenisation is not measured; ``--tokenizer``
takes a local ``vocab.txt`` or folder.
"""
import argparse
import contextlib
import json
import math
import os
import os.path as osp
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
from urllib.parse import urlparse

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import FUNCTIONS, DefaultScope
from PIL import Image

import albef_mm  # noqa: F401
from albef_mm.registry import DATASETS, MODELS

SYNTHETIC_TYPES = ('PretrainCaptionDataset', 'RetrievalDataset')
CAPTIONS_PER_IMAGE = 5  # COCO / Flickr30K retrieval annotations
SPLITS = ('train', 'val', 'test')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--split', default='train', choices=SPLITS)
    parser.add_argument('--samples', type=int, default=200)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--batch-size', type=int, help="default: config's")
    parser.add_argument('--batches', type=int, default=20)
    parser.add_argument('--synthetic', type=int, default=None, metavar='N',
                        help='benchmark on N generated images')
    parser.add_argument('--image-size', type=int, nargs=2, default=(640, 480),
                        metavar=('W', 'H'))
    parser.add_argument('--synthetic-dir', default=None,
                        help='keep the synthetic data here (default: a '
                        'temporary folder)')
    parser.add_argument('--shards', action='store_true',
                        help='with --synthetic (PretrainCaptionDataset): '
                        'also time one worker streaming the same images '
                        'from tar shards')
    parser.add_argument('--tokenizer', help="tokenizer's name_or_path")
    parser.add_argument('--target-samples-per-s', type=float, default=None,
                        help='samples/s of the training step: print the '
                        'num_workers it needs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--json', help='write the results here')
    return parser.parse_args(argv)


_WORDS = dict(
    adj='small large red white wooden old young crowded empty dark'.split(),
    noun='man woman dog cat bus train table pizza giraffe surfboard kitchen '
    'bicycle clock'.split(),
    verb='standing sitting parked walking lying waiting'.split(),
    prep=('next to', 'on top of', 'in front of', 'behind', 'near'),
    place=('in a field', 'on a city street', 'at the beach',
           'in a living room', 'under a blue sky'))


def synthetic_caption(rng: random.Random) -> str:
    """A COCO-like caption of 9-14 words."""
    w = {k: rng.choice(v) for k, v in _WORDS.items()}
    text = (f"a {w['adj']} {w['noun']} {w['verb']} {w['prep']} the "
            f"{rng.choice(_WORDS['adj'])} {rng.choice(_WORDS['noun'])}")
    return text + (f" {w['place']}" if rng.random() < 0.6 else '') + '.'


def synthetic_image(rng: np.random.Generator, width: int,
                    height: int) -> Image.Image:
    """Smooth random RGB content: bicubic-upsampled noise at four scales
    plus fine grain. At 640x480, JPEG quality 90, files average ~160 KB,
    close to COCO's, so decoding costs about what photos cost (flat or
    white-noise images would decode much faster or slower)."""
    img = np.zeros((height, width, 3), np.float32)
    for cells, amp in ((4, 90.0), (16, 45.0), (64, 25.0), (320, 30.0)):
        h = max(2, round(cells * height / width))
        noise = rng.standard_normal((h, cells, 3)).astype(np.float32)
        img += amp * np.stack([
            np.asarray(Image.fromarray(noise[..., c], 'F').resize(
                (width, height), Image.BICUBIC)) for c in range(3)], -1)
    img += rng.normal(0, 9, img.shape).astype(np.float32)
    return Image.fromarray(np.clip(img + 128, 0, 255).astype(np.uint8))


def write_synthetic(root: str, dataset_type: str, test_mode: bool,
                    num: int, size, seed: int = 0) -> dict:
    """Write ``num`` JPEGs to ``root/images`` and ``root/synthetic.json`` in
    the format of ``dataset_type``: PretrainCaptionDataset, one
    ``{image, caption}`` per image; RetrievalDataset, five
    ``{image, caption, image_id}`` records per image (train) or one
    ``{image, caption: [5 captions]}`` (test mode)."""
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    rng, text_rng = np.random.default_rng(seed), random.Random(seed)
    records, sizes = [], []
    for i in range(num):
        name = f'images/synthetic_{i:06d}.jpg'
        synthetic_image(rng, *size).save(osp.join(root, name), quality=90)
        sizes.append(osp.getsize(osp.join(root, name)))
        captions = [synthetic_caption(text_rng)
                    for _ in range(CAPTIONS_PER_IMAGE)]
        if dataset_type == 'PretrainCaptionDataset':
            records.append(dict(image=name, caption=captions[0]))
        elif test_mode:
            records.append(dict(image=name, caption=captions, image_id=i))
        else:
            records.extend(dict(image=name, caption=c, image_id=i)
                           for c in captions)
    with open(osp.join(root, 'synthetic.json'), 'w') as f:
        json.dump(records, f)
    return dict(root=root, num_images=num, image_size=list(size),
                mean_kb=statistics.mean(sizes) / 1024,
                num_records=len(records))


def _no_data(what: str, dataset_type: str) -> SystemExit:
    if dataset_type in SYNTHETIC_TYPES:
        hint = ('Point the config at your copy (--cfg-options <split>_'
                'dataloader.dataset.data_root=...) or use generated images: '
                '--synthetic N [--image-size W H].')
    else:
        hint = (f'--synthetic supports {" and ".join(SYNTHETIC_TYPES)} '
                f'only; {dataset_type} needs its real data: the annotation '
                'and image files its config names.')
    return SystemExit(f'{dataset_type}: {what}. {hint}')


def check_images(dataset, indices, dataset_type: str) -> None:
    """Missing image files fail here, not as skip_bad_samples retries."""
    for i in sorted(set(indices)):
        paths = dataset.get_data_info(i).get('img_path')
        for path in [paths] if isinstance(paths, str) else paths or []:
            if not osp.isfile(path):
                raise _no_data(f'image file not found: {path} (dataset '
                               f'index {i})', dataset_type)


def build_dataset(ds_cfg, dataset_type: str):
    files, root = ds_cfg.get('ann_file') or [], ds_cfg.get('data_root', '')
    missing = [osp.join(root or '', f) for f in
               ([files] if isinstance(files, str) else files)]
    missing = [f for f in missing if not osp.exists(f)]
    if missing:
        more = f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''
        raise _no_data(f'annotation file not found: {missing[0]}{more}',
                       dataset_type)
    try:
        return DATASETS.build(ds_cfg)
    except FileNotFoundError as err:  # folders of class / DTD datasets
        raise _no_data(str(err).rstrip('.'), dataset_type) from err


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get('HF_HUB_OFFLINE', '0') not in ('0', '', 'false'):
        return False
    url = urlparse(os.environ.get('HF_ENDPOINT', 'https://huggingface.co'))
    try:
        socket.create_connection((url.hostname, url.port or 443),
                                 timeout).close()
        return True
    except OSError:
        return False


def prepare_tokenizer_cfg(pre_cfg, override=None) -> str:
    """Set ``override`` as the tokenizer's ``name_or_path`` and return it;
    an unreachable hub means the local cache only (transformers would
    retry for minutes before failing)."""
    tok = pre_cfg.setdefault('tokenizer', dict(type='ALBEFTokenizer'))
    if override:
        tok['name_or_path'] = override
    name = tok.get('name_or_path', 'bert-base-uncased')
    if not osp.exists(osp.expanduser(name)) and not _hub_reachable():
        tok['local_files_only'] = True
    return name


def summarise(seconds, per: int = 1) -> dict:
    """Mean / p50 / p90 in ms of durations of ``per`` items each, and
    items per second."""
    mean = statistics.mean(seconds)
    p50, p90 = np.percentile(seconds, (50, 90))
    return dict(count=len(seconds), mean_ms=mean * 1e3,
                p50_ms=float(p50) * 1e3, p90_ms=float(p90) * 1e3,
                per_s=per / mean)


def _timed(fn, sync=lambda: None):
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


@contextlib.contextmanager
def worker_threads(opencv_threads: int):
    """A DataLoader worker's thread settings for the block."""
    saved = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)  # as torch's worker loop does
    cv2.setNumThreads(opencv_threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        cv2.setNumThreads(saved[1])


def time_worker(dataset, indices, warmup: int, opencv_threads: int):
    """``dataset[i]`` for each index with a DataLoader worker's threads;
    returns the samples and their durations."""
    with worker_threads(opencv_threads):
        [dataset[i] for i in indices[:warmup]]  # untimed warm-up
        timed = [_timed(lambda: dataset[i]) for i in indices[warmup:]]
    return tuple(zip(*timed))


def time_shards(ds_cfg, root: str, args, opencv_threads: int):
    """``--shards``: the synthetic records written as 4 tar shards, streamed
    by one reader (a worker's share) of ``ShardedCaptionDataset`` with the
    same transforms; durations of each sample (shard reads included)."""
    sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..',
                                'dataset_converters'))
    from albef_to_shards import json_to_shards
    out = osp.join(root, 'shards')
    json_to_shards([osp.join(root, 'synthetic.json')], root, out,
                   per_shard=math.ceil(args.synthetic / 4))
    dataset = DATASETS.build(dict(
        type='ShardedCaptionDataset', shards=osp.join(out, 'shards.json'),
        pipeline=ds_cfg.pipeline, max_words=ds_cfg.get('max_words', 30),
        seed=args.seed))
    stream = iter(dataset)
    count = min(args.samples, len(dataset) - args.warmup)
    with worker_threads(opencv_threads):
        [next(stream) for _ in range(args.warmup)]
        return [_timed(lambda: next(stream))[1] for _ in range(count)]


def time_main(samples, collate, preprocessor, batch: int, batches: int,
              device: str, tokenizer_error):
    """Collate, tokenisation and the whole data preprocessor per batch of
    ``batch`` samples (cycling through ``samples``). Tokenisation is left
    out when the tokenizer failed to load or the samples carry no single
    text each."""
    sync = torch.cuda.synchronize if device.startswith('cuda') else \
        (lambda: None)
    times = dict(collate=[], tokenise=[], preprocessor=[])
    for k in range(batches + 2):  # the first 2 are dropped
        items = [samples[(k * batch + j) % len(samples)]
                 for j in range(batch)]
        data, t_collate = _timed(lambda: collate(items))
        texts = [s.get(preprocessor.text_key)
                 for s in data.get('data_samples') or []]
        tokenised = (tokenizer_error is None and bool(texts)
                     and all(isinstance(t, str) for t in texts))
        if tokenised:
            _, t_tok = _timed(lambda: preprocessor.tokenize(texts))
            _, t_pre = _timed(lambda: preprocessor(data, training=True),
                              sync)
        else:  # images only: never feed texts to a tokenizer that failed
            _, t_pre = _timed(lambda: preprocessor(
                dict(inputs=data['inputs']), training=True), sync)
        times['collate'].append(t_collate)
        times['preprocessor'].append(t_pre)
        times['tokenise'] += [t_tok] if tokenised else []
    return {k: summarise(v[2:], batch) if v else None
            for k, v in times.items()}, tokenised


def recommend_workers(target: float, per_worker: float) -> int:
    """Workers needed to feed ``target`` samples/s."""
    return math.ceil(target / per_worker)


def print_report(r: dict) -> None:
    syn, b = r['synthetic'], r['batch_size']
    print(f"{r['config']} ({r['split']}): {r['dataset_type']}, "
          f"{r['dataset_len']} samples" + (
              f", {syn['num_images']} synthetic {syn['image_size'][0]}x"
              f"{syn['image_size'][1]} JPEGs (mean {syn['mean_kb']:.0f} KB)"
              if syn else ''))
    print(f"{f'stage (batch {b})':<30} {'mean ms':>9} {'p50 ms':>9} "
          f"{'p90 ms':>9} {'samples/s':>10}")
    pre = 'main: preprocessor' + ('' if r['tokenised'] else ', images only')
    for name, key in (('worker: dataset[i]', 'sample'), ('worker: collate',
                      'collate'), ('main: tokenise', 'tokenise'),
                      (pre, 'preprocessor')):
        if r[key]:
            print(f'{name:<30}' + ''.join(f' {r[key][k]:9.2f}' for k in (
                'mean_ms', 'p50_ms', 'p90_ms')) + f" {r[key]['per_s']:10.1f}")
    if r['tokenizer_error']:
        print(f"tokenisation NOT measured: the tokenizer {r['tokenizer']!r} "
              f"could not be loaded ({r['tokenizer_error']}); give a local "
              'vocab.txt or bert-base-uncased folder with --tokenizer')
    elif not r['tokenised']:
        print('tokenisation NOT measured: the samples carry no single text '
              'each (the model tokenises them elsewhere)')
    if r.get('shards'):
        print(f"{'worker: shard stream':<30}" + ''.join(
            f" {r['shards'][k]:9.2f}" for k in ('mean_ms', 'p50_ms',
                                                  'p90_ms')) +
            f" {r['shards']['per_s']:10.1f}  (json + folder: "
            f"{r['sample']['per_s']:.1f})")
    w = r['worker_samples_per_s']
    print(f'one worker: {w:.0f} samples/s; a GPU step consuming S '
          f'samples/s needs ceil(S / {w:.0f}) workers')
    print(f"main process: {r['preprocessor']['mean_ms']:.2f} ms per batch "
          f"of {b} in the data preprocessor ({r['device']}, "
          f"{r['main_threads']} threads): at most "
          f"{r['preprocessor']['per_s']:.0f} samples/s whatever num_workers"
          + ('; with --device cuda the images are normalised on the GPU'
             if r['device'] == 'cpu' else ''))
    if r['recommended_num_workers'] is not None:
        print(f"target {r['target_samples_per_s']:g} samples/s: "
              f"num_workers={r['recommended_num_workers']}")


def use_synthetic(ds_cfg, args):
    """Write and use ``--synthetic`` data: (description, temp folder)."""
    if ds_cfg.type not in SYNTHETIC_TYPES:
        raise _no_data('no synthetic data for this dataset type',
                       ds_cfg.type)
    root = args.synthetic_dir or tempfile.mkdtemp(prefix='albef_pipe_')
    info = write_synthetic(root, ds_cfg.type, ds_cfg.get('test_mode', False),
                           args.synthetic, args.image_size, args.seed)
    ds_cfg.update(data_root=root, ann_file='synthetic.json',
                  data_prefix=dict(img_path=''))
    ds_cfg.pop('path_map', None)
    return info, None if args.synthetic_dir else root


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    loader_cfg = cfg.get(f'{args.split}_dataloader')
    if not loader_cfg:
        raise SystemExit(f'{args.config} has no {args.split}_dataloader')
    ds_cfg, batch = loader_cfg.dataset.copy(), args.batch_size or \
        loader_cfg.get('batch_size', 1)
    pre_cfg = {'type': 'ALBEFDataPreprocessor', **cfg.model.data_preprocessor}
    tokenizer = prepare_tokenizer_cfg(pre_cfg, args.tokenizer)
    opencv_threads = cfg.get('env_cfg', {}).get('mp_cfg', {}).get(
        'opencv_num_threads', 0)  # MMEngine's default
    for seed in (random.seed, np.random.seed, torch.manual_seed):
        seed(args.seed)  # the transforms' draws
    synthetic, tmp_dir = use_synthetic(ds_cfg, args) if args.synthetic \
        else (None, None)
    try:
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'albef_mm')):
            dataset = build_dataset(ds_cfg, ds_cfg.type)
            order = list(range(len(dataset)))
            random.Random(args.seed).shuffle(order)  # a shuffling sampler
            indices = [order[k % len(order)]
                       for k in range(args.warmup + args.samples)]
            check_images(dataset, indices, ds_cfg.type)
            # looked up once the datasets (and MMEngine's) are imported
            collate_cfg = dict(loader_cfg.get('collate_fn',
                                              dict(type='pseudo_collate')))
            collate_fn = FUNCTIONS.get(collate_cfg.pop('type'))
            samples, sample_times = time_worker(dataset, indices,
                                                args.warmup, opencv_threads)
            preprocessor = MODELS.build(pre_cfg).to(args.device)
            try:
                preprocessor.tokenizer  # built lazily
                tokenizer_error = None
            except Exception as err:  # missing vocab, offline hub, ...
                tokenizer_error = f'{type(err).__name__}: {err}'
            shards = None
            if args.shards:
                if not synthetic or ds_cfg.type != 'PretrainCaptionDataset':
                    raise SystemExit('--shards needs --synthetic N and a '
                                     'PretrainCaptionDataset config')
                shards = summarise(time_shards(ds_cfg, synthetic['root'],
                                               args, opencv_threads))
            main_stats, tokenised = time_main(
                samples, lambda items: collate_fn(items, **collate_cfg),
                preprocessor, batch, args.batches, args.device,
                tokenizer_error)
    finally:
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    sample = summarise(sample_times)
    per_sample_ms = sample['mean_ms'] + main_stats['collate']['mean_ms'] / \
        batch
    result = dict(config=args.config, split=args.split,
                  dataset_type=ds_cfg.type, dataset_len=len(dataset),
                  synthetic=synthetic, batch_size=batch, device=args.device,
                  main_threads=torch.get_num_threads(),
                  opencv_threads=opencv_threads, tokenizer=tokenizer,
                  tokenizer_error=tokenizer_error, tokenised=tokenised,
                  sample=sample, shards=shards, **main_stats,
                  worker_samples_per_s=1e3 / per_sample_ms,
                  target_samples_per_s=args.target_samples_per_s,
                  recommended_num_workers=None)
    if args.target_samples_per_s:
        result['recommended_num_workers'] = recommend_workers(
            args.target_samples_per_s, result['worker_samples_per_s'])
    print_report(result)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
