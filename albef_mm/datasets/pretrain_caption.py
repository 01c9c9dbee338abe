"""ALBEF pre-training annotations: json lists of ``{image, caption}``."""
import logging
import os.path as osp
import random
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from albef_mm.registry import DATASETS
from .skip_counter import SharedCounter
from .transforms.loading import ImageLoadError
from .transforms.text import pre_caption
from .utils import (build_pipeline, check_image_caption_record,
                    load_json_list)


@DATASETS.register_module()
class PretrainCaptionDataset(BaseDataset):
    """Image-caption pairs for ALBEF pre-training (and TA pre-training).

    Each annotation file is a json list of ``{"image": path, "caption": str
    or list[str]}``; several files are concatenated in order. A relative
    ``image`` is joined with ``data_prefix['img_path']`` (itself joined with
    ``data_root``); an absolute one is used as is (the released
    ``json_pretrain`` files hold absolute paths that must be rewritten, or
    made relative and given a prefix). When ``caption`` is a list, one
    caption is chosen with ``random.choice`` every time the item is read.
    The chosen caption is cleaned with :func:`pre_caption` (``max_words``).

    Fields of each sample (before the pipeline): ``img_path``, ``text``
    (str, cleaned), ``sample_idx``.

    Bad data:

    - at load time, a missing annotation file, a record that is not a dict,
      lacks ``image``/``caption``, has an empty caption list or a non-string
      caption, and an empty dataset raise an error naming the file and the
      record index;
    - at read time, a missing or undecodable image raises
      :class:`ImageLoadError` naming the file and the dataset index; with
      ``skip_bad_samples=True`` a warning is logged, :attr:`num_skipped` is
      incremented and a random other sample is returned instead.
      :attr:`num_skipped` counts across DataLoader worker processes (shared
      memory), so a hook can read ``runner.train_dataloader.dataset
      .num_skipped`` at the end of an epoch and call
      :meth:`reset_num_skipped`.

    Args:
        ann_file (str | Sequence[str]): Annotation json file(s), relative to
            ``data_root`` unless absolute.
        data_root (str): Root of the data. Defaults to ''.
        data_prefix (dict): ``img_path`` prefix of relative image paths.
            Defaults to ``dict(img_path='')``.
        pipeline (Sequence): Transforms. Defaults to ().
        max_words (int | None): Words kept by :func:`pre_caption`; None
            leaves the caption raw. Defaults to 30.
        skip_bad_samples (bool): Skip unreadable images (at read time) and
            drop captions that are empty once cleaned (at load time), logged
            and counted, instead of raising. Defaults to False.
        path_map (dict, optional): ``{old_prefix: new_prefix}`` applied to
            every ``image`` before it is resolved (first matching prefix
            wins), e.g. ``{'/export/share/datasets/vision/coco/images/':
            'coco/'}`` to point the released files at local copies.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments
            (``indices``, ``serialize_data``, ``lazy_init``, ``max_refetch``,
            ``test_mode``, ``metainfo``).
    """

    def __init__(self,
                 ann_file: Union[str, Sequence[str]],
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 pipeline: Sequence = (),
                 max_words: Optional[int] = 30,
                 skip_bad_samples: bool = False,
                 path_map: Optional[dict] = None,
                 **kwargs) -> None:
        if isinstance(ann_file, str):
            ann_file = [ann_file]
        if not ann_file:
            raise ValueError('PretrainCaptionDataset: ann_file is empty')
        # Resolved here, as BaseDataset resolves a single ``ann_file``.
        self.ann_files = [self._resolve(f, data_root) for f in ann_file]
        self.max_words = max_words
        self.skip_bad_samples = skip_bad_samples
        self.path_map = dict(path_map or {})
        self._num_skipped = SharedCounter()
        super().__init__(
            ann_file='',
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=build_pipeline(pipeline),
            **kwargs)

    @staticmethod
    def _resolve(path: str, root: str) -> str:
        return path if osp.isabs(path) or not root else osp.join(root, path)

    def _map_path(self, image: str) -> str:
        for old, new in self.path_map.items():
            if image.startswith(old):
                return new + image[len(old):]
        return image

    @property
    def num_skipped(self) -> int:
        """Number of unreadable images skipped so far (all workers)."""
        return self._num_skipped.value

    def reset_num_skipped(self) -> None:
        """Set :attr:`num_skipped` to 0 (e.g. at the start of an epoch)."""
        self._num_skipped.reset()

    def load_data_list(self) -> List[dict]:
        """Read and validate every annotation file."""
        img_prefix = self.data_prefix.get('img_path', '')
        data_list, dropped = [], []
        for path in self.ann_files:
            for i, rec in enumerate(load_json_list(path)):
                caption = self._check_record(rec, path, i)
                caption = self._drop_empty_captions(caption, path, i,
                                                    dropped)
                if caption is None:
                    continue
                image = self._map_path(rec['image'])
                data_list.append(
                    dict(img_path=self._resolve(image, img_prefix),
                         text=caption))
        if dropped:
            print_log(f'PretrainCaptionDataset: dropped {len(dropped)} '
                      'caption(s) that are empty once cleaned (first: '
                      f'{dropped[0]}); skip_bad_samples=True',
                      logger='current', level=logging.WARNING)
        if not data_list:
            raise ValueError(
                f'PretrainCaptionDataset: no records in {self.ann_files}')
        return data_list

    def _drop_empty_captions(self, caption, path: str, i: int,
                             dropped: list):
        """Captions that clean to nothing (only punctuation, or blank)
        would train on a lone [CLS]: an error naming the record, or with
        ``skip_bad_samples`` dropped and counted. Returns the kept
        caption(s), None when nothing is left."""
        captions = caption if isinstance(caption, list) else [caption]
        keep = [c for c in captions if self._cleaned(c)]
        if len(keep) == len(captions):
            return caption
        where = f'{path}, record {i}'
        if not self.skip_bad_samples:
            bad = next(c for c in captions if not self._cleaned(c))
            raise ValueError(
                f'{where}: caption {bad!r} is empty once cleaned (ALBEF '
                'lower-cases it and removes punctuation); fix or remove it, '
                'or set skip_bad_samples=True to drop such captions')
        dropped.extend(f'{where}' for _ in range(len(captions) - len(keep)))
        if not keep:
            return None
        return keep if isinstance(caption, list) else keep[0]

    def _cleaned(self, caption: str) -> str:
        return caption.strip() if self.max_words is None else \
            pre_caption(caption, self.max_words)

    @staticmethod
    def _check_record(rec, path: str, i: int) -> Union[str, List[str]]:
        where = f'{path}, record {i}'
        check_image_caption_record(rec, where)
        caption = rec['caption']
        if isinstance(caption, list):
            if not caption:
                raise ValueError(f'{where}: "caption" is an empty list')
            if not all(isinstance(c, str) for c in caption):
                raise ValueError(f'{where}: every caption must be a string, '
                                 f'got {caption!r}')
        elif not isinstance(caption, str):
            raise ValueError(f'{where}: "caption" must be a string or a list '
                             f'of strings, got {type(caption).__name__}')
        return caption

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Choose and clean a caption, then run the pipeline.

        Returns None (BaseDataset then draws another index) for an
        unreadable image when ``skip_bad_samples`` is True.
        """
        data_info = self.get_data_info(idx)
        text = data_info['text']
        if isinstance(text, list):
            text = random.choice(text)
        if self.max_words is not None:
            text = pre_caption(text, self.max_words)
        data_info['text'] = text
        try:
            return self.pipeline(data_info)
        except ImageLoadError as err:
            if not self.skip_bad_samples:
                raise
            count = self._num_skipped.increment()
            print_log(f'Skipping sample {idx} ({count} skipped so far): '
                      f'{err}', logger='current', level=logging.WARNING)
            return None
