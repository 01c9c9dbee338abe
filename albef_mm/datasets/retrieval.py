"""ALBEF image-text retrieval annotations (COCO / Flickr30K / Shapes).

One class serves every retrieval benchmark: the configs choose the json
files (``coco_train.json``, ``flickr30k_test.json``, ``retrieval_val.json``
of Shapes, ...). ``tools/dataset_converters/karpathy_to_albef.py`` writes the
files from the public Karpathy splits.
"""
import os.path as osp
from typing import Dict, Hashable, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from albef_mm.registry import DATASETS
from .transforms.loading import ImageLoadError
from .transforms.text import clean_text
from .utils import (build_pipeline, check_image_caption_record,
                    load_json_list)


@DATASETS.register_module()
class RetrievalDataset(BaseDataset):
    """Image-text retrieval annotations in ALBEF's json format (the
    Karpathy splits of COCO / Flickr30K as released with ALBEF).

    **Train mode** (``test_mode=False``; ``re_train_dataset`` in ALBEF): each
    file is a json list with one record per caption,
    ``{"image": relative path, "caption": str, "image_id": str | int}``.
    Several files are concatenated in order. ``image_id`` values are mapped
    to contiguous indices in order of first appearance; that index
    (``image_idx``) marks the ITC positives and masks ITM negatives of
    captions of the same image. Fields of each sample (before the
    pipeline): ``img_path``, ``text`` (cleaned caption), ``image_idx``
    (int), ``image_id`` (the raw id) and ``sample_idx``.

    **Test mode** (``test_mode=True``; ``re_eval_dataset``): one record per
    image, ``{"image": path, "caption": [str, ...]}`` (an ``image_id`` key
    is kept when present). The dataset is indexed by image; its captions
    are flattened in record order into :attr:`texts`, and :attr:`img2txt`
    / :attr:`txt2img` map between the two (as ALBEF's ``img2txt`` and
    ``txt2img`` dicts, here lists). Fields of each sample: ``img_path``,
    ``text`` (list of the image's cleaned captions), ``gt_text_idx``
    (indices of those captions in :attr:`texts`), ``image_idx`` (= the
    dataset index), ``sample_idx`` and ``image_id`` when present.

    Captions are cleaned with :func:`pre_caption` (``max_words``) at load
    time. A relative ``image`` is joined with ``data_prefix['img_path']``
    (itself joined with ``data_root``); an absolute one is used as is.

    Errors name the annotation file and the record index:

    - at load time: a missing or non-list annotation file; a record that
      is not a dict or lacks ``image`` / ``caption``; a caption that is
      empty once cleaned; (train) a record without ``image_id``, an
      ``image_id`` written once as a number and once as a string (``1``
      and ``"1"``), or whose caption is not a string; (test) a caption
      that is not a non-empty list of strings, and an image that appears
      in two records (paths are normalised: ``ok.jpg`` and ``./ok.jpg``
      are one image); an empty dataset; with ``check_files=True``, any
      image file that does not exist;
    - at read time: a missing image file raises :class:`ImageLoadError`
      naming the file and the dataset index (even when the pipeline does
      not load the image).

    ``indices`` (a subset) is refused in test mode because the caption maps
    would no longer match; write a smaller annotation file instead.

    Args:
        ann_file (str | Sequence[str]): Annotation json file(s), relative to
            ``data_root`` unless absolute.
        data_root (str): Root of the data. Defaults to ''.
        data_prefix (dict): ``img_path`` prefix of relative image paths
            (ALBEF's ``image_root``). Defaults to ``dict(img_path='')``.
        pipeline (Sequence): Transforms (dicts are built with albef_mm's
            TRANSFORMS registry, so no default scope is needed).
            Defaults to ().
        max_words (int): Words kept by :func:`pre_caption`. Defaults to 30.
        check_files (bool): Check at load time that every image file exists.
            Defaults to False.
        test_mode (bool): Evaluation format (one record per image).
            Defaults to False.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments
            (``indices``, ``serialize_data``, ``lazy_init``, ``max_refetch``,
            ``metainfo``).

    Example:
        >>> train = RetrievalDataset('retrieval_train.json',
        ...                          data_root='data/shapes')
        >>> test = RetrievalDataset('retrieval_test.json',
        ...                         data_root='data/shapes', test_mode=True)
        >>> test.num_texts == len(test.txt2img)
        True
    """

    def __init__(self,
                 ann_file: Union[str, Sequence[str]],
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 pipeline: Sequence = (),
                 max_words: int = 30,
                 check_files: bool = False,
                 test_mode: bool = False,
                 **kwargs) -> None:
        if isinstance(ann_file, str):
            ann_file = [ann_file]
        if not ann_file:
            raise ValueError('RetrievalDataset: ann_file is empty')
        if test_mode and kwargs.get('indices') is not None:
            raise ValueError(
                'RetrievalDataset: `indices` is not supported in test_mode '
                '(img2txt / txt2img would not match the subset); write a '
                'smaller annotation file instead')
        # Resolved here, as BaseDataset resolves a single ``ann_file``.
        self.ann_files = [self._resolve(f, data_root) for f in ann_file]
        self.max_words = max_words
        self.check_files = check_files
        self._texts: List[str] = []
        self._img2txt: List[List[int]] = []
        self._txt2img: List[int] = []
        self._img_ids: Dict[Hashable, int] = {}
        self._id_where: Dict[str, tuple] = {}
        super().__init__(
            ann_file='',
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=build_pipeline(pipeline),
            test_mode=test_mode,
            **kwargs)

    @staticmethod
    def _resolve(path: str, root: str) -> str:
        return path if osp.isabs(path) or not root else osp.join(root, path)

    # ------------------------------------------------------------- loading
    def load_data_list(self) -> List[dict]:
        """Read and validate every annotation file (train or test format)."""
        self._texts, self._img2txt, self._txt2img = [], [], []
        self._img_ids, self._id_where = {}, {}
        data_list = []
        for path in self.ann_files:
            records = load_json_list(path)
            for i, rec in enumerate(records):
                where = f'{path}, record {i}'
                check_image_caption_record(rec, where)
                if self.test_mode:
                    data_list.append(self._parse_test(rec, where))
                else:
                    data_list.append(self._parse_train(rec, where))
        if not data_list:
            raise ValueError(
                f'RetrievalDataset: no records in {self.ann_files}')
        if self.test_mode:
            self._check_duplicates(data_list)
        if self.check_files:
            self._check_image_files(data_list)
        return data_list

    def _img_path(self, image: str) -> str:
        # normalised: ``ok.jpg`` and ``./ok.jpg`` are one image
        return osp.normpath(self._resolve(image,
                                          self.data_prefix.get('img_path',
                                                               '')))

    def _parse_train(self, rec: dict, where: str) -> dict:
        if 'image_id' not in rec:
            raise KeyError(
                f'{where}: missing key "image_id" (record keys: '
                f'{sorted(rec)}); training records need it to mark captions '
                'of the same image. Is this an evaluation file (then set '
                'test_mode=True)?')
        image_id = rec['image_id']
        if not isinstance(image_id, (str, int)) or isinstance(image_id, bool):
            raise ValueError(f'{where}: "image_id" must be a string or an '
                             f'integer, got {image_id!r}')
        caption = rec['caption']
        if not isinstance(caption, str):
            raise ValueError(
                f'{where}: a training record needs one caption string, got '
                f'{type(caption).__name__}. Is this an evaluation file (then '
                'set test_mode=True)?')
        # Contiguous index in order of first appearance, as ALBEF; 1 and
        # "1" would be two images there: refused instead
        other = self._id_where.setdefault(str(image_id), (image_id, where))
        if other[0] != image_id:
            raise ValueError(
                f'{where}: image_id {image_id!r} and {other[0]!r} of '
                f'{other[1]} differ only in type; write every id of one '
                'image the same way (they would count as two images)')
        image_idx = self._img_ids.setdefault(image_id, len(self._img_ids))
        return dict(img_path=self._img_path(rec['image']),
                    text=clean_text(caption, where, max_words=self.max_words,
                                    what='caption'),
                    image_idx=image_idx,
                    image_id=image_id)

    def _parse_test(self, rec: dict, where: str) -> dict:
        captions = rec['caption']
        if not isinstance(captions, list):
            raise ValueError(
                f'{where}: an evaluation record needs "caption" as a list of '
                f'all captions of the image, got {type(captions).__name__}. '
                'Is this a training file (then set test_mode=False)?')
        if not captions:
            raise ValueError(f'{where}: "caption" is an empty list; every '
                             'evaluation image needs at least one caption')
        if not all(isinstance(c, str) for c in captions):
            raise ValueError(f'{where}: every caption must be a string, got '
                             f'{captions!r}')
        image_idx = len(self._img2txt)
        start = len(self._texts)
        gt_text_idx = list(range(start, start + len(captions)))
        self._texts.extend(
            clean_text(c, f'{where}, caption {n}', max_words=self.max_words,
                       what='caption') for n, c in enumerate(captions))
        self._img2txt.append(gt_text_idx)
        self._txt2img.extend([image_idx] * len(captions))
        info = dict(img_path=self._img_path(rec['image']),
                    text=self._texts[start:],
                    gt_text_idx=gt_text_idx,
                    image_idx=image_idx,
                    _where=where)
        if 'image_id' in rec:
            info['image_id'] = rec['image_id']
        return info

    @staticmethod
    def _check_duplicates(data_list: List[dict]) -> None:
        first: Dict[str, str] = {}
        for info in data_list:
            where = info.pop('_where')
            if info['img_path'] in first:
                raise ValueError(
                    f'{where}: image {info["img_path"]} already appears in '
                    f'{first[info["img_path"]]}; an evaluation split must '
                    'list each image once with all its captions')
            first[info['img_path']] = where

    def _check_image_files(self, data_list: List[dict]) -> None:
        missing = [(i, info['img_path']) for i, info in enumerate(data_list)
                   if not osp.isfile(info['img_path'])]
        if missing:
            idx, path = missing[0]
            raise FileNotFoundError(
                f'RetrievalDataset ({", ".join(self.ann_files)}): '
                f'{len(missing)} image file(s) not found, the first is '
                f'{path} (record {idx}). Check `data_root` / '
                '`data_prefix` and the `image` paths of the annotation '
                'file.')

    # ------------------------------------------------------------ reading
    def prepare_data(self, idx: int) -> Optional[dict]:
        """Check the image file of sample ``idx`` and run the pipeline.

        Raises:
            ImageLoadError: When the image file does not exist (the message
                names the file and the dataset index).
        """
        data_info = self.get_data_info(idx)
        path = data_info['img_path']
        if not osp.isfile(path):
            raise ImageLoadError(
                f'Image file not found: {path} (dataset index {idx}, '
                f'annotation file(s) {", ".join(self.ann_files)}). Check '
                '`data_root` / `data_prefix` and the `image` paths.')
        return self.pipeline(data_info)

    # ------------------------------------------------------ evaluation maps
    def _eval_attr(self, name: str):
        if not self.test_mode:
            raise RuntimeError(
                f'RetrievalDataset.{name} exists only in test_mode (one '
                'record per image with a list of captions)')
        if not self._fully_initialized:
            self.full_init()
        return getattr(self, '_' + name)

    @property
    def texts(self) -> List[str]:
        """All cleaned captions of the split, flattened in record order
        (test mode only)."""
        return self._eval_attr('texts')

    @property
    def img2txt(self) -> List[List[int]]:
        """``img2txt[i]``: indices in :attr:`texts` of image ``i``'s captions
        (test mode only)."""
        return self._eval_attr('img2txt')

    @property
    def txt2img(self) -> List[int]:
        """``txt2img[j]``: index of the image of caption ``j`` (test mode
        only)."""
        return self._eval_attr('txt2img')

    @property
    def num_images(self) -> int:
        """Number of distinct images (test mode: records; train mode:
        distinct ``image_id`` values)."""
        if not self._fully_initialized:
            self.full_init()
        return len(self._img2txt) if self.test_mode else len(self._img_ids)

    @property
    def num_texts(self) -> int:
        """Number of captions (train mode: records)."""
        if not self._fully_initialized:
            self.full_init()
        return len(self._texts) if self.test_mode else len(self)
