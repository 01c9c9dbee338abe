"""DTD (Describable Textures Dataset) with its official split files."""
import os
import os.path as osp
from typing import List, Optional, Sequence

from albef_mm.registry import DATASETS
from .class_folder import _ClassificationBase


@DATASETS.register_module()
class DTDDataset(_ClassificationBase):
    """DTD read directly from the released ``dtd-r1.0.1`` folder::

        <data_root>/images/<class>/<class>_0001.jpg ...   47 classes x 120
        <data_root>/labels/train1.txt ... train10.txt     "<class>/<file>"
                           val1.txt ... val10.txt         per line
                           test1.txt ... test10.txt

    The ten official splits each hold 40 images per class in train, val
    and test. ``split`` chooses the file ``labels/<split><fold>.txt``
    (several splits, e.g. ``('train', 'val')``, are concatenated — the
    usual "train+val" protocol). A line's class is its folder name; class
    names are the 47 folder names under ``images/`` in sorted order (the
    DTD convention), or the ``classes`` given.

    Fields of each sample: ``img_path``, ``gt_label`` (int),
    ``sample_idx``. The metainfo has ``classes``. Errors name the split
    file and line.

    Args:
        data_root (str): The ``dtd`` folder (holds ``images/`` and
            ``labels/``).
        split (str | Sequence[str]): ``'train'``, ``'val'``, ``'test'`` or
            several of them. Defaults to ``'test'``.
        fold (int): Official split number, 1-10. Defaults to 1.
        classes (str | Sequence[str], optional): Class names (a list or a
            names file relative to ``data_root``); defaults to the sorted
            folders of ``images/``.
        check_files (bool): Check at load time that every image exists.
            Defaults to False.
        pipeline (Sequence): Transforms. Defaults to ().
        test_mode (bool): Defaults to False.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    SPLITS = ('train', 'val', 'test')

    def __init__(self, data_root: str, split='test', fold: int = 1,
                 classes: Optional[Sequence[str]] = None,
                 check_files: bool = False, pipeline: Sequence = (),
                 test_mode: bool = False, **kwargs):
        splits = (split, ) if isinstance(split, str) else tuple(split)
        bad = [s for s in splits if s not in self.SPLITS]
        if bad or not splits:
            raise ValueError(f'DTD split must be one or more of '
                             f'{self.SPLITS}, got {split!r}')
        if not (isinstance(fold, int) and 1 <= fold <= 10):
            raise ValueError(f'DTD fold must be an integer in 1..10 (the '
                             f'ten official splits), got {fold!r}')
        self.splits, self.fold, self.check_files = splits, fold, check_files
        super().__init__(data_root=data_root, classes=classes,
                         pipeline=pipeline, test_mode=test_mode, **kwargs)

    def split_files(self) -> List[str]:
        return [osp.join(self.data_root, 'labels', f'{s}{self.fold}.txt')
                for s in self.splits]

    def load_data_list(self) -> List[dict]:
        image_root = osp.join(self.data_root, 'images')
        names = self._given_classes()
        if names is None:
            if not osp.isdir(image_root):
                raise FileNotFoundError(
                    f'{image_root} not found: data_root must be the DTD '
                    'folder holding images/ and labels/ (dtd-r1.0.1)')
            names = sorted(d for d in os.listdir(image_root)
                           if osp.isdir(osp.join(image_root, d)))
            if not names:
                raise ValueError(f'{image_root} has no class folders')
        index = {n: i for i, n in enumerate(names)}
        self._set_classes(names)
        data_list = []
        for path in self.split_files():
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'DTD split file not found: {path}; data_root must hold '
                    'labels/{train,val,test}{1..10}.txt')
            with open(path, encoding='utf-8') as f:
                for n, line in enumerate(f, 1):
                    rel = line.strip()
                    if not rel:
                        continue
                    cls = rel.split('/', 1)[0]
                    if '/' not in rel or cls not in index:
                        raise ValueError(
                            f'{path} line {n}: expected "<class>/<image>" '
                            f'with a known class, got {rel!r}')
                    img_path = osp.join(image_root, rel)
                    if self.check_files and not osp.isfile(img_path):
                        raise FileNotFoundError(
                            f'{path} line {n}: image {img_path} does not '
                            'exist')
                    data_list.append(dict(img_path=img_path,
                                          gt_label=index[cls]))
        if not data_list:
            raise ValueError(f'the DTD split files {self.split_files()} '
                             'list no images')
        return data_list
