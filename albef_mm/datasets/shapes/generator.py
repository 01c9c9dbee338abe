"""Write the *Shapes* benchmark: images, annotation files, vocabulary."""
import json
import multiprocessing
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Tuple

from PIL import Image

from . import formats as F
from .scene import render_scene, sample_scene
from .vocab import build_vocab, check_vocab


def _dump(obj, path: str) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=None, separators=(',', ':'))
        f.write('\n')


def _make_image(job: Tuple[str, int, int, int]) -> List[dict]:
    """Sample, render and save image ``idx``; its scene objects. Each image
    has its own random stream, so the images can be made in any order or
    process."""
    out_dir, idx, seed, image_size = job
    rng = F.stream_rng(seed, 'scene', idx)
    objects = sample_scene(rng, image_size)
    img = render_scene(objects, rng, image_size)
    Image.fromarray(img).save(
        osp.join(out_dir, 'images', f'shapes_{idx:06d}.jpg'), quality=95,
        subsampling=0)
    return objects


def generate_shapes(out_dir: str,
                    num_train: int = 2000,
                    num_val: int = 200,
                    num_test: int = 200,
                    num_pretrain_extra: int = 0,
                    image_size: int = 64,
                    seed: int = 0,
                    retrieval_train_captions: int = 2,
                    vqa_questions: int = 2,
                    progress: Optional[Callable[[str], None]] = None,
                    workers: int = 1) -> Dict[str, int]:
    """Generate the Shapes benchmark into ``out_dir``.

    Deterministic: the same arguments give byte-identical files.

    Args:
        out_dir (str): Output folder (created; existing files overwritten).
        num_train (int): Training images. Defaults to 2000.
        num_val (int): Validation images. Defaults to 200.
        num_test (int): Test images. Defaults to 200.
        num_pretrain_extra (int): Extra images used only by pre-training:
            numbered after the test split, appended to ``pretrain.json``
            (3 paraphrases each) and listed in ``scenes.json`` with split
            ``pretrain``; every other file ignores them. Defaults to 0
            (the command-line tool's default is 14000, what
            ``configs/albef/pretrain_shapes_tiny.py`` trains on).
        image_size (int): Image side in pixels (>= 32). Defaults to 64.
        seed (int): Random seed. Defaults to 0.
        retrieval_train_captions (int): Captions (records) per image in
            ``retrieval_train.json``. Defaults to 2.
        vqa_questions (int): Questions per image in the VQA files.
            Defaults to 2.
        progress (Callable[[str], None], optional): Called with progress
            messages (e.g. ``print``).
        workers (int): Processes rendering the images; the files are the
            same for any number. Defaults to 1 (in this process).

    Returns:
        dict: Number of records written per file name, plus ``images``.

    Raises:
        ValueError: if ``image_size`` < 32, a split has fewer than 2
            images, ``num_pretrain_extra`` < 0 or ``workers`` < 1.
    """
    if image_size < 32:
        raise ValueError(f'image_size must be >= 32, got {image_size}')
    if min(num_train, num_val, num_test) < 2:
        raise ValueError('num_train, num_val and num_test must each be >= 2 '
                         '(NLVR2 pairs need two images)')
    if num_pretrain_extra < 0:
        raise ValueError('num_pretrain_extra must be >= 0, got '
                         f'{num_pretrain_extra}')
    log = progress or (lambda msg: None)
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    splits = {'train': range(0, num_train),
              'val': range(num_train, num_train + num_val),
              'test': range(num_train + num_val,
                            num_train + num_val + num_test)}
    total = num_train + num_val + num_test
    # Pre-training-only images come last, so they never shift the images
    # (and seeds) of the other splits.
    all_splits = dict(splits)
    if num_pretrain_extra:
        all_splits['pretrain'] = range(total, total + num_pretrain_extra)
    total += num_pretrain_extra

    # 1. scenes and images
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    jobs = ((out_dir, idx, seed, image_size) for idx in range(total))
    pool = multiprocessing.Pool(workers) if workers > 1 else None
    try:
        made = pool.imap(_make_image, jobs, chunksize=64) if pool \
            else map(_make_image, jobs)
        scenes = []
        for objects in made:  # in index order
            scenes.append(objects)
            if len(scenes) % 500 == 0 or len(scenes) == total:
                log(f'images: {len(scenes)}/{total}')
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    names = [f'shapes_{idx:06d}' for idx in range(total)]

    def path(idx: int) -> str:
        return f'images/{names[idx]}.jpg'

    # 2. one annotation set per ALBEF format (the order fixes the file order
    # of shapes_meta.json)
    files: Dict[str, object] = {}
    files.update(F.scene_records(scenes, all_splits, path))
    files.update(F.pretrain_records(scenes, all_splits, path, seed))
    files.update(F.retrieval_records(scenes, splits, path, seed,
                                     retrieval_train_captions))
    files.update(F.grounding_records(scenes, splits, path, seed, image_size))
    files.update(F.vqa_records(scenes, splits, path, seed, vqa_questions))
    files.update(F.nlvr_records(scenes, splits, path, seed))
    files.update(F.ve_records(scenes, splits, names, seed))

    check_vocab(files)
    counts = {}
    for name, obj in files.items():
        _dump(obj, osp.join(out_dir, name))
        counts[name] = len(obj)
    vocab = build_vocab()
    with open(osp.join(out_dir, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(vocab) + '\n')
    counts['vocab.txt'] = len(vocab)
    counts['images'] = total
    meta = dict(num_train=num_train, num_val=num_val, num_test=num_test,
                image_size=image_size, seed=seed,
                retrieval_train_captions=retrieval_train_captions,
                vqa_questions=vqa_questions, counts=counts)
    if num_pretrain_extra:  # absent when 0: older outputs stay identical
        meta['num_pretrain_extra'] = num_pretrain_extra
    _dump(meta, osp.join(out_dir, 'shapes_meta.json'))
    log(f'wrote {len(files) + 2} files to {out_dir}')
    return counts
