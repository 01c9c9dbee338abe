"""NLVR2 annotations in ALBEF's json format (``nlvr_{train,dev,test}.json``).

``tools/dataset_converters/nlvr2_to_albef.py`` writes them from the
official NLVR2 ``{train,dev,test1}.json`` jsonl files.
"""
from typing import List

from albef_mm.registry import DATASETS
from .snli_ve import SNLIVEDataset, check_keys, check_sentence, resolve
from .transforms.text import pre_caption
from .utils import load_json_list

_LABELS = {'True': 1, 'False': 0, True: 1, False: 0}


@DATASETS.register_module()
class NLVR2Dataset(SNLIVEDataset):
    """NLVR2: is the sentence true of the image pair?

    Each annotation file is a json list of ``{"images": [path0, path1]
    (relative to data_prefix.img_path), "sentence": str, "label": "True" |
    "False"}``; several files are concatenated (as ALBEF's list of
    ``train_file``). Label 1 iff ``"True"``. The sentence is cleaned with
    :func:`pre_caption`.

    Fields of each sample before the pipeline: ``img_path`` (list of the
    two paths), ``text``, ``gt_label``, ``sample_idx``. The pipeline's
    image transforms act on each of the two images with their own random
    draws; :class:`PackALBEFInputs` stacks them into ``[2, C, H, W]`` and
    the model encodes both with the same ViT.

    Errors name the annotation file and the record index; a missing image
    file raises :class:`ImageLoadError` naming the file and the dataset
    index.

    Args:
        ann_file (str | Sequence[str]): Annotation json file(s).
        data_root (str): Root of the data. Defaults to ''.
        data_prefix (dict): ``img_path`` folder the image paths are
            relative to. Defaults to ``dict(img_path='')``.
        pipeline (Sequence): Transforms. Defaults to ().
        max_words (int): Words kept by :func:`pre_caption`. Defaults to 30.
        image_ext (str): Not used (NLVR2 paths carry their extension).
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(classes=('False', 'True'))

    def load_data_list(self) -> List[dict]:
        data_list = []
        root = self.data_prefix.get('img_path', '')
        for path in self.ann_files:
            for i, rec in enumerate(load_json_list(path)):
                where = f'{path}, record {i}'
                check_keys(rec, ('images', 'sentence', 'label'), where)
                images = rec['images']
                if not isinstance(images, list) or len(images) != 2 or \
                        not all(isinstance(p, str) and p for p in images):
                    raise ValueError(f'{where}: "images" must be a list of '
                                     f'two image paths, got {images!r}')
                label = rec['label']
                if not isinstance(label, (str, bool)) or \
                        label not in _LABELS:
                    raise ValueError(f'{where}: label must be "True" or '
                                     f'"False", got {label!r}')
                data_list.append(dict(
                    img_path=[resolve(p, root) for p in images],
                    text=pre_caption(check_sentence(rec, where),
                                     self.max_words),
                    gt_label=_LABELS[label]))
        if not data_list:
            raise ValueError(f'{type(self).__name__}: no records in '
                             f'{self.ann_files}')
        return data_list
