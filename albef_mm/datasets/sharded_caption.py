"""Image-caption pairs streamed from tar shards (the webdataset layout that
``img2dataset`` writes: ``key.jpg`` + ``key.txt`` / ``key.json``)."""
import io
import json
import logging
import os.path as osp
import random
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import braceexpand
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from torch.utils.data import IterableDataset, get_worker_info
from webdataset.tariterators import (group_by_keys, tar_file_expander,
                                     url_opener)

from albef_mm.registry import DATASETS
from .skip_counter import SharedCounter
from .transforms.loading import (DEFAULT_MAX_PIXELS, ImageLoadError,
                                 _decode, _TruncatedImagesAllowed)
from .transforms.text import pre_caption
from .utils import build_pipeline

IMAGE_SUFFIXES = ('jpg', 'jpeg', 'png', 'webp', 'bmp')
CAPTION_SUFFIXES = ('txt', 'json')


class ShardError(ValueError):
    """A shard or one of its members cannot be used; the message names the
    shard and, for a member, its key."""


def read_manifest(path: str) -> Tuple[List[str], int]:
    """Shard urls (relative ones joined with the manifest's folder) and the
    total sample count of a manifest written by
    ``tools/dataset_converters/albef_to_shards.py``."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        shards = data['shards']
        urls = [s['url'] for s in shards]
        total = int(data['num_samples'])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ShardError(f'{path}: not a shard manifest ({{"num_samples": '
                         f'N, "shards": [{{"url": ...}}]}}): {err}') from err
    root = osp.dirname(path)
    return [u if '://' in u or u.startswith('pipe:') or osp.isabs(u) else
            osp.join(root, u) for u in urls], total


def expand_shards(shards: Union[str, Sequence[str]], data_root: str = ''
                  ) -> Tuple[List[str], Optional[int]]:
    """Shard urls from a brace pattern (``a-{000..009}.tar``), a list, a
    ``pipe:`` command, a URL or a manifest ``.json``; returns the urls and
    the manifest's sample count (None without a manifest)."""
    items = [shards] if isinstance(shards, str) else list(shards)
    urls, total = [], None
    for item in items:
        local = '://' not in item and not item.startswith('pipe:')
        if local and data_root and not osp.isabs(item):
            item = osp.join(data_root, item)
        if local and item.endswith('.json'):
            found, count = read_manifest(item)
            urls += found
            total = (total or 0) + count
        else:
            urls += list(braceexpand.braceexpand(item))
    if not urls:
        raise ShardError(f'no shards in {shards!r}')
    return urls, total


def read_shard(url: str) -> List[dict]:
    """All samples of one shard (``{'__key__', suffix: bytes, ...}``), in
    tar order; :class:`ShardError` names the shard when it cannot be read
    (missing, not a tar, truncated, a failing ``pipe:`` command)."""
    def reraise(exn):
        raise ShardError(f'shard {url} cannot be read: '
                         f'{type(exn).__name__}: {exn}') from exn
    try:
        streams = url_opener([dict(url=url)], handler=reraise)
        return list(group_by_keys(tar_file_expander(streams,
                                                    handler=reraise),
                                  handler=reraise))
    except ShardError:
        raise
    except Exception as err:  # tarfile / pipe errors outside the handlers
        raise ShardError(f'shard {url} cannot be read: '
                         f'{type(err).__name__}: {err}') from err


def decode_image_bytes(data: bytes, where: str,
                       max_pixels: Optional[int] = DEFAULT_MAX_PIXELS):
    """Decode image bytes as :func:`load_rgb_image` decodes a file (RGB
    uint8 HWC, truncated files read as far as they go, ``max_pixels``
    checked on the header); :class:`ImageLoadError` names ``where``."""
    try:
        try:
            img = _decode(io.BytesIO(data), '', max_pixels)
        except ImageLoadError:
            raise
        except OSError:
            with _TruncatedImagesAllowed():
                img = _decode(io.BytesIO(data), '', max_pixels)
    except ImageLoadError as err:
        raise ImageLoadError(f'{where}: {err}') from err
    except Exception as err:  # PIL raises many error types
        raise ImageLoadError(f'{where}: cannot decode the image: '
                             f'{type(err).__name__}: {err}') from err
    if img.ndim != 3 or 0 in img.shape[:2]:
        raise ImageLoadError(f'{where}: the image has no pixels')
    return img


@DATASETS.register_module()
class ShardedCaptionDataset(IterableDataset):
    """Image-caption pairs streamed from tar shards, for pre-training and
    fine-tuning past one machine's disk.

    Each sample of a shard is ``key.<jpg|jpeg|png|webp|bmp>`` and
    ``key.txt`` (the caption) or ``key.json`` (``{"caption": str or
    list}``, as ``img2dataset`` writes). Shards are local paths, brace
    patterns, URLs or ``pipe:`` commands (opened by ``webdataset``), or a
    manifest ``.json`` that also declares the sample count.

    Epochs and splitting: every epoch the shard list is shuffled with
    ``seed + epoch`` (the same on every rank), then shard ``i`` goes to
    reader ``i % (world_size * num_workers)`` (reader = ``rank *
    num_workers + worker``), so ranks and workers read disjoint shards.
    Each reader holds one shard's raw bytes in memory and yields its
    samples in an order shuffled with ``(seed, epoch, shard)``. An epoch is
    ``num_samples`` samples over all ranks (``len()`` is this rank's share,
    whole batches when ``batch_size`` is given, so ``len(dataloader)``
    equals the batches each epoch really has and step-based schedules stay
    right). A reader that runs out of shards before its share reads them
    again (logged); one with more stops at its share. Every sample is seen
    exactly once per epoch when the shards hold equally many samples, their
    number is a multiple of ``world_size * num_workers`` and
    ``num_samples`` is their total.

    :meth:`set_epoch` (called by :class:`ShardEpochHook` before each
    epoch, in every worker through shared memory) selects the epoch and how
    many batches of it this rank already trained on (a resumed run): each
    reader regenerates its sequence and drops what it had yielded, without
    decoding the images, so a resume is exact: the same batches, in the
    same order, as the uninterrupted epoch (off by one sample per
    undecodable image in the dropped part).

    Bad data: an unreadable shard or a member without an image or a
    caption, an undecodable image or a caption empty once cleaned raises
    :class:`ShardError` / :class:`ImageLoadError` naming the shard and
    key; with ``skip_bad_samples=True`` it is logged, counted in
    :attr:`num_skipped` (all workers) and skipped.

    Args:
        shards (str | Sequence[str]): Shards (see above).
        num_samples (int, optional): Samples per epoch over all ranks;
            taken from a manifest when None.
        batch_size (int, optional): The dataloader's batch size, to give
            each worker whole batches. Defaults to None.
        pipeline (Sequence): The json datasets' transforms; a leading
            ``LoadRGBImageFromFile`` is replaced by decoding the shard's
            bytes with its ``max_pixels``.
        max_words (int | None): Words kept by :func:`pre_caption`.
        skip_bad_samples (bool): Log, count and skip bad shards / members
            instead of raising. Defaults to False.
        shuffle (bool): Shuffle shards and samples. Defaults to True.
        seed (int): Shuffle seed. Defaults to 0.
        data_root (str): Joined with relative local shard paths.
    """

    def __init__(self,
                 shards: Union[str, Sequence[str]],
                 num_samples: Optional[int] = None,
                 batch_size: Optional[int] = None,
                 pipeline: Sequence = (),
                 max_words: Optional[int] = 30,
                 skip_bad_samples: bool = False,
                 shuffle: bool = True,
                 seed: int = 0,
                 data_root: str = '') -> None:
        self.urls, declared = expand_shards(shards, data_root)
        if num_samples is None:
            if declared is None:
                raise ShardError(
                    f'{shards!r}: give num_samples (samples per epoch), or '
                    'a manifest .json that declares it')
            num_samples = declared
        if num_samples <= 0:
            raise ValueError(f'num_samples must be positive, got '
                             f'{num_samples}')
        self.num_samples = int(num_samples)
        self.batch_size = batch_size
        steps = list(pipeline)
        self.max_pixels = DEFAULT_MAX_PIXELS
        if steps and isinstance(steps[0], dict) and \
                steps[0].get('type') == 'LoadRGBImageFromFile':
            self.max_pixels = steps.pop(0).get('max_pixels',
                                               DEFAULT_MAX_PIXELS)
        self.pipeline = build_pipeline(steps)
        self.max_words = max_words
        self.skip_bad_samples = skip_bad_samples
        self.shuffle = shuffle
        self.seed = seed
        self.rank, self.world_size = get_dist_info()
        self._epoch = SharedCounter()
        self._consumed = SharedCounter()
        self._num_skipped = SharedCounter()

    # ---------------------------------------------------------- bookkeeping
    @property
    def num_skipped(self) -> int:
        """Bad shards and samples skipped so far (all workers)."""
        return self._num_skipped.value

    def reset_num_skipped(self) -> None:
        """Set :attr:`num_skipped` to 0."""
        self._num_skipped.reset()

    @property
    def epoch(self) -> int:
        return self._epoch.value

    def set_epoch(self, epoch: int, consumed_batches: int = 0) -> None:
        """Select the epoch read next and the batches of it this rank has
        already trained on (skipped). Workers read both when they start."""
        for counter, value in ((self._epoch, epoch),
                               (self._consumed, consumed_batches)):
            counter.reset()
            counter.increment(int(value))

    def _rank_share(self) -> int:
        share = self.num_samples // self.world_size
        if self.batch_size:
            share -= share % self.batch_size
        return share

    def __len__(self) -> int:
        return self._rank_share()

    def worker_share(self, worker: int, num_workers: int) -> int:
        """Samples reader ``worker`` of this rank yields per epoch: whole
        batches, dealt out as the DataLoader collects them (round robin)."""
        unit = self.batch_size or 1
        units = self._rank_share() // unit
        return (units // num_workers +
                (1 if worker < units % num_workers else 0)) * unit

    def _skip_count(self, worker: int, num_workers: int) -> int:
        unit = self.batch_size or 1
        done = self._consumed.value
        return (done // num_workers +
                (1 if worker < done % num_workers else 0)) * unit

    def reader_shards(self, epoch: int, worker: int,
                      num_workers: int) -> List[str]:
        """The shards reader (this rank, ``worker``) reads in ``epoch``."""
        readers = self.world_size * num_workers
        if len(self.urls) < readers:
            raise ShardError(
                f'{len(self.urls)} shard(s) cannot be split over {readers} '
                f'readers (world_size {self.world_size} x num_workers '
                f'{num_workers}): write more, smaller shards or use fewer '
                'workers')
        order = list(range(len(self.urls)))
        if self.shuffle:
            random.Random(self.seed + epoch).shuffle(order)
        reader = self.rank * num_workers + worker
        return [self.urls[i] for i in order[reader::readers]]

    # ------------------------------------------------------------- reading
    def _skip(self, message: str) -> None:
        count = self._num_skipped.increment()
        print_log(f'{message} (skipped; {count} so far)', logger='current',
                  level=logging.WARNING)

    def _caption(self, member: dict, where: str) -> str:
        if 'txt' in member:
            caption = member['txt'].decode('utf-8', errors='replace')
        elif 'json' in member:
            try:
                caption = json.loads(member['json'])['caption']
            except (ValueError, KeyError, TypeError) as err:
                raise ShardError(f'{where}: key.json has no "caption" '
                                 f'({err})') from err
        else:
            raise ShardError(f'{where}: no caption member '
                             f'(.{" / .".join(CAPTION_SUFFIXES)})')
        if isinstance(caption, list) and caption:
            caption = random.choice(caption)
        if not isinstance(caption, str):
            raise ShardError(f'{where}: caption must be a string, got '
                             f'{type(caption).__name__}')
        text = caption.strip() if self.max_words is None else \
            pre_caption(caption, self.max_words)
        if not text:
            raise ShardError(f'{where}: caption {caption!r} is empty once '
                             'cleaned')
        return text

    def _sample(self, member: dict, url: str) -> dict:
        where = f'shard {url}, key {member["__key__"]}'
        image = next((member[s] for s in IMAGE_SUFFIXES if s in member),
                     None)
        if image is None:
            raise ShardError(f'{where}: no image member '
                             f'(.{" / .".join(IMAGE_SUFFIXES)})')
        text = self._caption(member, where)
        img = decode_image_bytes(image, where, self.max_pixels)
        return dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                    text=text, img_path=f'{url}#{member["__key__"]}')

    def _reader_stream(self, epoch: int, worker: int,
                       num_workers: int) -> Iterator[Tuple[dict, str]]:
        """Members of this reader's shards, each shard's in a seeded order;
        shards are read again (later passes reshuffled) until the caller
        stops, unless none yields a member."""
        shards = self.reader_shards(epoch, worker, num_workers)
        for pass_ in range(1 << 30):
            if pass_ == 1:
                print_log(f'rank {self.rank} worker {worker}: its '
                          f'{len(shards)} shard(s) hold fewer samples than '
                          'its share of num_samples; reading them again '
                          '(declare num_samples as the shards\' total to '
                          'see each sample once per epoch)',
                          logger='current', level=logging.WARNING)
            produced = False
            for url in shards:
                try:
                    members = read_shard(url)
                except ShardError as err:
                    if not self.skip_bad_samples:
                        raise
                    self._skip(str(err))
                    continue
                if self.shuffle:
                    random.Random(f'{self.seed}/{epoch}/{pass_}/{url}'
                                  ).shuffle(members)
                for member in members:
                    produced = True
                    yield member, url
            if not produced:
                raise ShardError(f'rank {self.rank} worker {worker}: no '
                                 f'readable sample in shards {shards}')

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, num_workers = (0, 1) if info is None else (info.id,
                                                           info.num_workers)
        # The DataLoader takes batches from its workers round robin,
        # starting with worker 0 on every new iterator: after a resume the
        # reader whose batch came next in the interrupted run must be
        # worker 0's, so readers are rotated by the batches consumed.
        worker = (worker + self._consumed.value) % num_workers
        epoch = self.epoch
        share = self.worker_share(worker, num_workers)
        to_skip = min(self._skip_count(worker, num_workers), share)
        yielded = 0
        stream = self._reader_stream(epoch, worker, num_workers)
        while yielded < share:
            member, url = next(stream)
            if to_skip:  # already trained on before a resume
                to_skip -= 1
                yielded += 1
                continue
            try:
                results = self.pipeline_sample(self._sample(member, url))
            except (ShardError, ImageLoadError) as err:
                if not self.skip_bad_samples:
                    raise
                self._skip(str(err))
                continue
            yielded += 1
            yield results

    def pipeline_sample(self, results: dict) -> dict:
        """Run the transforms on a decoded sample."""
        for t in self.pipeline:
            results = t(results)
        return results
