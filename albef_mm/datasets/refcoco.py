"""Referring-expression grounding data (RefCOCO / RefCOCO+ / RefCOCOg) in
ALBEF's format, with ground-truth boxes from the official ``refer``
annotations and detector proposals.

Files (ALBEF's ``data.tar.gz`` layout, or written by
``tools/dataset_converters/refcoco_to_albef.py`` from the official files):

- ``refcoco+_train.json``: ``[{"image": path, "text": expression}]``;
- ``refcoco+_val.json`` / ``refcoco+_test.json`` (testA + testB):
  ``[{"image", "text", "ref_id"}]``;
- ground truth, either the official ``refer`` files
  ``<refer_root>/<dataset>/refs(<split_by>).p`` + ``instances.json`` (read
  with pycocotools), or a ``refs.json`` ``{str(ref_id): {image_id, bbox
  (xywh), split, height, width, file_name}}`` (what the converter and the
  Shapes generator write);
- ``dets.json``: ``{str(image_id): [[x, y, w, h, ...], ...]}`` proposals
  (ALBEF uses MAttNet's Mask R-CNN detections).
"""
import math
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from albef_mm.registry import DATASETS
from .transforms.text import clean_text
from .utils import build_pipeline, load_json_list, read_json

REF_KEYS = ('image_id', 'bbox', 'split', 'height', 'width')


class _PlainUnpickler(pickle.Unpickler):
    """Loads only plain containers: the refer pickles hold lists, dicts,
    strings and numbers, so any class reference means a wrong file."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(
            f'refusing to load {module}.{name}: a refer refs(*).p file holds '
            'only lists, dicts, strings and numbers')


def load_refer(refer_root: str, dataset: str = 'refcoco+',
               split_by: str = 'unc') -> Dict[int, dict]:
    """Read the official refer annotations of one dataset.

    Args:
        refer_root: Folder holding ``<dataset>/refs(<split_by>).p`` and
            ``<dataset>/instances.json`` (the refer API's ``data_root``).
        dataset: ``refcoco``, ``refcoco+`` or ``refcocog``.
        split_by: ``unc`` (RefCOCO, RefCOCO+), ``umd`` or ``google``
            (RefCOCOg).
    Returns:
        ``{ref_id: dict(image_id, ann_id, bbox, split, height, width,
        file_name, sentences)}``; ``bbox`` is the COCO box (xywh) of the
        referred annotation, ``sentences`` the raw expressions.
    """
    from pycocotools.coco import COCO
    folder = osp.join(refer_root, dataset)
    ref_file = osp.join(folder, f'refs({split_by}).p')
    inst_file = osp.join(folder, 'instances.json')
    for path in (ref_file, inst_file):
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} not found: refer_root must hold {dataset}/refs('
                f'{split_by}).p and {dataset}/instances.json (the official '
                'refer annotations)')
    with open(ref_file, 'rb') as f:
        refs = _PlainUnpickler(f).load()
    coco = COCO(inst_file)
    out = {}
    for i, ref in enumerate(refs):
        for key in ('ref_id', 'ann_id', 'image_id', 'split'):
            if key not in ref:
                raise KeyError(f'{ref_file}, ref {i}: missing key {key!r}')
        if ref['ann_id'] not in coco.anns:
            raise KeyError(f'{ref_file}, ref {i}: ann_id {ref["ann_id"]} is '
                           f'not in {inst_file}')
        img = coco.imgs[ref['image_id']]
        out[int(ref['ref_id'])] = dict(
            image_id=ref['image_id'], ann_id=ref['ann_id'],
            bbox=list(coco.anns[ref['ann_id']]['bbox']), split=ref['split'],
            height=img['height'], width=img['width'],
            file_name=img['file_name'],
            sentences=[s.get('sent', s.get('raw', ''))
                       for s in ref.get('sentences', [])])
    return out


def load_refs_json(path: str) -> Dict[int, dict]:
    """Read a ``refs.json`` (``{str(ref_id): {image_id, bbox, split, height,
    width, ...}}``); errors name the file and the ref."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'refs file not found: {path}')
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f'{path} must map ref ids to records')
    out = {}
    for key, ref in data.items():
        missing = [k for k in REF_KEYS if k not in ref]
        if missing:
            raise KeyError(f'{path}, ref {key}: missing {missing}')
        out[int(key)] = ref
    return out


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and \
        math.isfinite(v)


def check_ground_truth(ref: dict, where: str) -> None:
    """Raise unless the ground truth of a referring expression can be
    scored: a box ``[x, y, w, h]`` of finite numbers with ``w, h > 0`` (a
    box of size 0 is missed by every proposal) and an image size of
    positive integers (the heat map is upsampled to it); ``where`` starts
    the message."""
    box = ref['bbox']
    if not isinstance(box, (list, tuple)) or len(box) != 4 or \
            not all(_finite(v) for v in box):
        raise ValueError(f'{where}: "bbox" must be 4 finite numbers [x, y, '
                         f'w, h], got {box!r}')
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f'{where}: "bbox" {box!r} has width or height '
                         '<= 0, which no proposal can match; fix the box or '
                         'remove the expression')
    for key in ('height', 'width'):
        size = ref[key]
        if not _finite(size) or size != int(size) or size <= 0:
            raise ValueError(f'{where}: image "{key}" must be a positive '
                             f'integer, got {size!r}')


@DATASETS.register_module()
class RefCOCODataset(BaseDataset):
    """Weakly supervised grounding data (ALBEF's ``grounding_dataset``).

    **Train mode**: records ``{"image", "text"}``; the image index
    (``image_idx``, ITC positives / ITM masking as in retrieval) is the
    order of first appearance of the image *file name* (basename), so all
    expressions of one image are positives of each other. Sample fields:
    ``img_path``, ``text`` (cleaned with :func:`pre_caption`),
    ``image_idx``.

    **Test mode**: records ``{"image", "text", "ref_id"}``; the ground truth
    comes from ``refs_file`` or the official refer files, the proposals
    from ``dets_file``. Sample fields: ``img_path``, ``text``, ``ref_id``,
    ``image_id``, ``gt_bbox`` (xywh), ``ref_split`` (``val``, ``testA``,
    ``testB``, ``test``), ``gt_image_size`` ``(H, W)`` from the annotations
    (the heat map is upsampled to it) and ``proposals`` (``[]`` when the
    image has none; the metric counts those).

    Errors name the file and record: a record without ``image`` / ``text``
    (/ ``ref_id``), an expression that is empty once cleaned, a ``ref_id``
    missing from the ground truth, a ground-truth box that is not 4
    finite numbers or has width / height <= 0, an image size that is not
    a positive integer, a proposal with a non-finite coordinate, a test
    dataset without ground truth.

    Args:
        ann_file (str | Sequence[str]): ALBEF grounding json file(s),
            relative to ``data_root`` unless absolute.
        data_root (str): Data root.
        data_prefix (dict): ``img_path`` prefix of the images (ALBEF's
            ``image_root``, e.g. the COCO images folder).
        pipeline (Sequence): Transforms.
        max_words (int): Words kept by :func:`pre_caption` (30).
        test_mode (bool): Evaluation format.
        refs_file (str, optional): ``refs.json`` (relative to
            ``data_root``).
        refer_root (str, optional): Official refer ``data_root``
            (relative to ``data_root``); used when ``refs_file`` is unset.
        refer_dataset (str): ``refcoco+`` / ``refcoco`` / ``refcocog``.
        split_by (str): ``unc`` / ``umd`` / ``google``.
        dets_file (str, optional): Proposals json (relative to
            ``data_root``); needed in test mode.
        **kwargs: Other ``BaseDataset`` arguments.
    """

    def __init__(self, ann_file: Union[str, Sequence[str]],
                 data_root: str = '', data_prefix: dict = dict(img_path=''),
                 pipeline: Sequence = (), max_words: int = 30,
                 test_mode: bool = False, refs_file: Optional[str] = None,
                 refer_root: Optional[str] = None,
                 refer_dataset: str = 'refcoco+', split_by: str = 'unc',
                 dets_file: Optional[str] = None, **kwargs):
        files = [ann_file] if isinstance(ann_file, str) else list(ann_file)
        if not files:
            raise ValueError('RefCOCODataset: ann_file is empty')
        self.ann_files = [self._resolve(f, data_root) for f in files]
        self.max_words = max_words
        self.refs: Dict[int, dict] = {}
        self.dets: Dict[str, list] = {}
        if test_mode:
            if refs_file:
                self.refs = load_refs_json(self._resolve(refs_file,
                                                         data_root))
            elif refer_root:
                self.refs = load_refer(self._resolve(refer_root, data_root),
                                       refer_dataset, split_by)
            else:
                raise ValueError(
                    'RefCOCODataset(test_mode=True) needs the ground truth: '
                    'set refs_file (refs.json) or refer_root (official '
                    'refs(unc).p + instances.json)')
            if not dets_file:
                raise ValueError('RefCOCODataset(test_mode=True) needs '
                                 'dets_file (the proposals to rank)')
            dets_path = self._resolve(dets_file, data_root)
            if not osp.isfile(dets_path):
                raise FileNotFoundError(f'proposals file not found: '
                                        f'{dets_path}')
            self.dets = read_json(dets_path)
            self.dets_file = dets_path
        super().__init__(ann_file='', data_root=data_root,
                         data_prefix=data_prefix,
                         pipeline=build_pipeline(pipeline),
                         test_mode=test_mode, **kwargs)

    @staticmethod
    def _resolve(path: str, root: str) -> str:
        return path if osp.isabs(path) or not root else osp.join(root, path)

    def load_data_list(self) -> List[dict]:
        data_list, img_ids = [], {}
        prefix = self.data_prefix.get('img_path', '')
        for path in self.ann_files:
            for i, rec in enumerate(load_json_list(path)):
                where = f'{path}, record {i}'
                keys = ('image', 'text', 'ref_id') if self.test_mode else (
                    'image', 'text')
                mode = 'test' if self.test_mode else 'train'
                if not isinstance(rec, dict) or any(k not in rec
                                                    for k in keys):
                    raise KeyError(f'{where}: a {mode} record needs the keys '
                                   f'{list(keys)}, got {rec!r:.200}')
                info = dict(img_path=self._resolve(rec['image'], prefix),
                            text=clean_text(rec['text'], where,
                                            max_words=self.max_words,
                                            what='expression'))
                if self.test_mode:
                    info.update(self._ground_truth(rec['ref_id'], where))
                else:
                    name = rec['image'].split('/')[-1]
                    info['image_idx'] = img_ids.setdefault(name,
                                                           len(img_ids))
                data_list.append(info)
        if not data_list:
            raise ValueError(f'RefCOCODataset: no records in '
                             f'{self.ann_files}')
        return data_list

    def _ground_truth(self, ref_id, where: str) -> dict:
        ref = self.refs.get(int(ref_id))
        if ref is None:
            raise KeyError(f'{where}: ref_id {ref_id} is not in the ground '
                           'truth (refs_file / refer files of another '
                           'dataset or split?)')
        check_ground_truth(ref, f'{where}: ref_id {ref_id}')
        proposals = self.dets.get(str(ref['image_id']), [])
        for n, box in enumerate(proposals):
            if not all(_finite(v) for v in box[:4]):
                raise ValueError(
                    f'{self.dets_file}, image {ref["image_id"]}, proposal '
                    f'{n}: coordinates must be finite numbers, got '
                    f'{box[:4]!r}; fix or remove the proposal')
        return dict(ref_id=int(ref_id), image_id=ref['image_id'],
                    gt_bbox=[float(v) for v in ref['bbox']],
                    ref_split=ref['split'],
                    gt_image_size=(int(ref['height']), int(ref['width'])),
                    proposals=[[float(v) for v in p[:4]] for p in proposals])
