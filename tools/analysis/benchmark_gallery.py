"""Gallery store and FAISS benchmark: store size, exact and indexed query
latency, index build time, recall@10 of each index against the exact scan,
and the peak memory of each step (its own process, ``VmHWM``); optionally
the full-size image encoder's images/s in fp32 and bf16 autocast.

Synthetic data stands in for a gallery's ITC features: ``--num`` unit
vectors of ``--dim`` (256, the ITC width) drawn around ``--clusters``
random centres (real image features cluster; uniform random vectors would
make every neighbour nearly equidistant), and queries at cosine ~0.85 of
random gallery rows (a caption near its image); see
:func:`synthetic_chunk`.

    python tools/analysis/benchmark_gallery.py work_dirs/gallery_bench \\
        --num 1000000 --specs HNSW32 IVF1024,Flat --encoder

prints one table row per step and writes ``results.json`` in the folder
(which must not exist yet, or hold only an earlier run's store).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

SEARCH_PARAMS = {'HNSW': [('efSearch', 64), ('efSearch', 128),
                          ('efSearch', 256)],
                 'IVF': [('nprobe', 16), ('nprobe', 64)]}


def peak_rss_gib() -> float:
    """This process's peak resident set size (``VmHWM``)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 2**20
    raise RuntimeError('no VmHWM in /proc/self/status (Linux only)')


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic_chunk(start, end, dim, clusters, seed=0):
    """Rows ``start:end`` of the synthetic gallery (deterministic): each
    row 0.6 of a random cluster centre and 0.8 of its own direction (rows
    of one cluster have cosine ~0.36, as images of one kind)."""
    centres = _unit(np.random.default_rng(seed).standard_normal(
        (clusters, dim)))
    rng = np.random.default_rng([seed, start])
    own = _unit(rng.standard_normal((end - start, dim)))
    return _unit(0.6 * centres[rng.integers(0, clusters, end - start)] +
                 0.8 * own)


def queries(store, n, seed=1):
    """``n`` queries at cosine ~0.85 of random gallery rows (a caption
    near its image; the rest of the row's cluster at ~0.3)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(store.paths), n, replace=False)
    size = store.meta['chunk_size']
    q = np.stack([np.asarray(store.chunk(r // size)[r % size], np.float32)
                  for r in rows])
    noise = _unit(rng.standard_normal(q.shape)).astype(np.float32)
    return _unit(0.85 * q + 0.53 * noise).astype(np.float32)


def step_write(args):
    from albef_mm.apis.gallery_store import GalleryStore
    paths = [f'/synthetic/{i:08d}.jpg' for i in range(args.num)]
    store = GalleryStore.create(args.root, paths, 'synthetic', args.dim,
                                args.chunk_size)

    def encode(chunk_paths):
        start = int(osp.basename(chunk_paths[0])[:8])
        return synthetic_chunk(start, start + len(chunk_paths), args.dim,
                               args.clusters), {}
    t = time.perf_counter()
    store.encode(encode, emit=lambda line: None)
    size = sum(osp.getsize(osp.join(args.root, f))
               for f in os.listdir(args.root))
    return dict(seconds=time.perf_counter() - t, store_mib=size / 2**20)


def step_exact(args):
    import torch
    from albef_mm.apis.gallery_store import GalleryStore
    store = GalleryStore.open(args.root)
    q = torch.from_numpy(queries(store, args.queries))
    one = []
    for i in range(6):  # one query: what a user waits for (first: cold)
        t = time.perf_counter()
        store.search(q[i:i + 1], 10)
        one.append(time.perf_counter() - t)
    t = time.perf_counter()
    _, rows = store.search(q, 10)
    batch = time.perf_counter() - t
    np.save(osp.join(args.root, 'exact_top10.npy'), rows.numpy())
    return dict(cold_query_ms=one[0] * 1e3,
                query_ms=float(np.median(one[1:])) * 1e3,
                batch_ms_per_query=batch / len(q) * 1e3)


def step_index(args):
    import torch
    from albef_mm.apis.gallery_index import (build_index, index_search,
                                             load_index)
    from albef_mm.apis.gallery_store import GalleryStore
    store = GalleryStore.open(args.root)
    t = time.perf_counter()
    build_index(store, args.spec, emit=lambda line: None)
    build = time.perf_counter() - t
    build_peak = peak_rss_gib()
    index = load_index(store)
    q = torch.from_numpy(queries(store, args.queries))
    exact = np.load(osp.join(args.root, 'exact_top10.npy'))
    out = dict(build_s=build, build_peak_gib=build_peak,
               index_mib=osp.getsize(osp.join(args.root, 'index.faiss')) /
               2**20, settings=[])
    for name, value in SEARCH_PARAMS['HNSW' if 'HNSW' in args.spec
                                     else 'IVF']:
        params = {name: value}
        t = time.perf_counter()
        for i in range(len(q)):  # one query at a time
            index_search(store, index, q[i:i + 1], 10, params)
        per_query = (time.perf_counter() - t) / len(q)
        _, rows = index_search(store, index, q, 10, params)
        recall = np.mean([len(set(a) & set(b)) / 10
                          for a, b in zip(rows.numpy(), exact)])
        out['settings'].append(dict(param=f'{name}={value}',
                                    query_ms=per_query * 1e3,
                                    recall_at_10=float(recall)))
    return out


def step_encoder(args):
    """Images/s of the full-size ViT-B/16 (256 px) image path, fp32 and
    bf16 autocast, and how much bf16 moves the ITC rankings."""
    import torch
    from albef_mm.apis import init_model
    torch.manual_seed(0)
    # random weights (no download): the speed and the bf16 error are the
    # architecture's, not the checkpoint's
    model = init_model(osp.join(osp.dirname(osp.abspath(__file__)), '..',
                                '..', 'configs', 'albef', 'pretrain_4m.py'))
    images = torch.randn(args.encoder_images, 3, 256, 256)
    out = {}
    feats = {}
    for name, dtype in (('fp32', None), ('bf16', torch.bfloat16)):
        with torch.no_grad(), torch.autocast('cpu', dtype=dtype,
                                             enabled=dtype is not None):
            model.extract_feat(images[:2], mode='image')  # warm-up
            t = time.perf_counter()
            got = [model.extract_feat(images[s:s + 8], mode='image')
                   ['image_feat'].float()
                   for s in range(0, len(images), 8)]
            out[f'{name}_images_per_s'] = len(images) / (
                time.perf_counter() - t)
        feats[name] = torch.cat(got)
    sims = {k: v @ v.t() for k, v in feats.items()}
    k = min(10, len(images))
    top = {name: v.topk(k, dim=1).indices for name, v in sims.items()}
    out['max_abs_cosine_diff'] = float((sims['fp32'] - sims['bf16']).abs()
                                       .max())
    out['top10_overlap'] = float(np.mean([
        len(set(a.tolist()) & set(b.tolist())) / k
        for a, b in zip(top['fp32'], top['bf16'])]))
    out['top1_equal'] = float((top['fp32'][:, 0] == top['bf16'][:, 0])
                              .float().mean())
    return out


STEPS = dict(write=step_write, exact=step_exact, index=step_index,
             encoder=step_encoder)


def run_step(args, step, spec=None):
    """Run ``step`` in a fresh process (its own peak memory)."""
    cmd = [sys.executable, osp.abspath(__file__), args.root, '--step', step,
           '--num', str(args.num), '--dim', str(args.dim), '--clusters',
           str(args.clusters), '--chunk-size', str(args.chunk_size),
           '--queries', str(args.queries), '--encoder-images',
           str(args.encoder_images)]
    if spec:
        cmd += ['--spec', spec]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f'step {step} failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('root', help='store folder (created)')
    p.add_argument('--num', type=int, default=1_000_000)
    p.add_argument('--dim', type=int, default=256)
    p.add_argument('--clusters', type=int, default=1000)
    p.add_argument('--chunk-size', type=int, default=65536)
    p.add_argument('--queries', type=int, default=200)
    p.add_argument('--specs', nargs='*', default=['HNSW32', 'IVF1024,Flat'])
    p.add_argument('--encoder', action='store_true',
                   help='also time the full-size image encoder')
    p.add_argument('--encoder-images', type=int, default=32)
    p.add_argument('--step', choices=sorted(STEPS), help=argparse.SUPPRESS)
    p.add_argument('--spec', help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.step:
        result = STEPS[args.step](args)
        result['peak_gib'] = peak_rss_gib()
        print(json.dumps(result))
        return
    results = dict(num=args.num, dim=args.dim, clusters=args.clusters,
                   load=os.getloadavg())
    if not osp.isfile(osp.join(args.root, 'store.json')):
        results['write'] = run_step(args, 'write')
        print('write', results['write'], flush=True)
    results['exact'] = run_step(args, 'exact')
    print('exact', results['exact'], flush=True)
    for spec in args.specs:
        results[spec] = run_step(args, 'index', spec)
        print(spec, results[spec], flush=True)
    if args.encoder:
        results['encoder'] = run_step(args, 'encoder')
        print('encoder', results['encoder'], flush=True)
    with open(osp.join(args.root, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
