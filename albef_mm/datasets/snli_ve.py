"""SNLI-VE annotations in ALBEF's json format (``ve_{train,dev,test}.json``).

``tools/dataset_converters/snli_ve_to_albef.py`` writes them from the
official ``snli_ve_{train,dev,test}.jsonl`` files.
"""
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from albef_mm.registry import DATASETS
from .transforms.loading import ImageLoadError
from .transforms.text import pre_caption
from .utils import build_pipeline, load_json_list

# ALBEF's label ids (dataset/ve_dataset.py).
VE_LABELS = {'contradiction': 0, 'neutral': 1, 'entailment': 2}


def resolve(path: str, root: str) -> str:
    """``path`` joined with ``root`` unless it is absolute or root is
    empty."""
    return path if osp.isabs(path) or not root else osp.join(root, path)


def check_keys(rec, keys: Sequence[str], where: str) -> None:
    """Raise unless ``rec`` is a dict holding every key of ``keys``."""
    if not isinstance(rec, dict):
        raise ValueError(f'{where}: expected a dict with keys {list(keys)}, '
                         f'got {type(rec).__name__}')
    for key in keys:
        if key not in rec:
            raise KeyError(f'{where}: missing key "{key}" (record keys: '
                           f'{sorted(rec)})')


def check_sentence(rec: dict, where: str) -> str:
    sentence = rec['sentence']
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f'{where}: "sentence" must be a non-empty string, '
                         f'got {sentence!r}')
    return sentence


@DATASETS.register_module()
class SNLIVEDataset(BaseDataset):
    """SNLI-VE: (premise image, hypothesis) → contradiction / neutral /
    entailment.

    Each annotation file is a json list of
    ``{"image": Flickr30K id without extension, "sentence": hypothesis,
    "label": "entailment" | "neutral" | "contradiction"}``; the image file
    is ``<data_prefix.img_path>/<image><image_ext>``. Labels map to
    contradiction 0, neutral 1, entailment 2 (ALBEF's ids). The hypothesis
    is cleaned with :func:`pre_caption` (``max_words``).

    Fields of each sample before the pipeline: ``img_path``, ``text``,
    ``gt_label`` (int), ``image_id`` (the record's id), ``sample_idx``.

    Errors name the annotation file and record index (missing key, unknown
    label, empty sentence); a missing image file raises
    :class:`ImageLoadError` naming the file and the dataset index.

    Args:
        ann_file (str | Sequence[str]): Annotation json file(s), relative
            to ``data_root`` unless absolute.
        data_root (str): Root of the data. Defaults to ''.
        data_prefix (dict): ``img_path`` folder of the images (ALBEF's
            ``image_root``). Defaults to ``dict(img_path='')``.
        pipeline (Sequence): Transforms. Defaults to ().
        max_words (int): Words kept by :func:`pre_caption`. Defaults to 30.
        image_ext (str): Extension appended to the image id.
            Defaults to ``'.jpg'``.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(classes=('contradiction', 'neutral', 'entailment'))

    def __init__(self, ann_file: Union[str, Sequence[str]],
                 data_root: str = '', data_prefix: dict = dict(img_path=''),
                 pipeline: Sequence = (), max_words: int = 30,
                 image_ext: str = '.jpg', **kwargs) -> None:
        files = [ann_file] if isinstance(ann_file, str) else list(ann_file)
        if not files:
            raise ValueError(f'{type(self).__name__}: ann_file is empty')
        self.ann_files = [resolve(f, data_root) for f in files]
        self.max_words = max_words
        self.image_ext = image_ext
        super().__init__(ann_file='', data_root=data_root,
                         data_prefix=data_prefix,
                         pipeline=build_pipeline(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = []
        root = self.data_prefix.get('img_path', '')
        for path in self.ann_files:
            for i, rec in enumerate(load_json_list(path)):
                where = f'{path}, record {i}'
                check_keys(rec, ('image', 'sentence', 'label'), where)
                if rec['label'] not in VE_LABELS:
                    raise ValueError(
                        f'{where}: label {rec["label"]!r} is not one of '
                        f'{sorted(VE_LABELS)}')
                image = rec['image']
                if not isinstance(image, (str, int)) or image == '':
                    raise ValueError(f'{where}: "image" must be an image id '
                                     f'(file name without extension), got '
                                     f'{image!r}')
                data_list.append(dict(
                    img_path=resolve(f'{image}{self.image_ext}', root),
                    text=pre_caption(check_sentence(rec, where),
                                     self.max_words),
                    gt_label=VE_LABELS[rec['label']], image_id=image))
        if not data_list:
            raise ValueError(f'{type(self).__name__}: no records in '
                             f'{self.ann_files}')
        return data_list

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Check the image file(s) of sample ``idx``, then run the pipeline.

        Raises:
            ImageLoadError: An image file does not exist.
        """
        info = self.get_data_info(idx)
        paths = info['img_path']
        for path in paths if isinstance(paths, list) else [paths]:
            if not osp.isfile(path):
                raise ImageLoadError(
                    f'Image file not found: {path} (dataset index {idx}, '
                    f'annotation file(s) {", ".join(self.ann_files)}). '
                    'Check `data_root` / `data_prefix` and the image names.')
        return self.pipeline(info)
