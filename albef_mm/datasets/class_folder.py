"""Single-label image classification datasets: class folders and
annotation files (image, label)."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from albef_mm.registry import DATASETS
from .utils import build_pipeline, not_utf8_error, read_json

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def read_class_names(path: str) -> List[str]:
    """One class name per non-empty line (line order = label index).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is empty or lists a name twice.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'class names file not found: {path}; '
                                'write one class name per line')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f'{path} lists no class names')
    _check_unique(names, path)
    return names


def _check_unique(names: Sequence[str], where: str) -> None:
    seen = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ValueError(f'{where}: class name {name!r} appears twice '
                             f'(second time at index {i})')
        seen.add(name)


class _ClassificationBase(BaseDataset):
    """Shared class-name handling and pipeline building."""

    def __init__(self, data_root: str = '', data_prefix: Optional[dict] = None,
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 pipeline: Sequence = (), test_mode: bool = False,
                 **kwargs):
        self._classes_arg = classes
        super().__init__(data_root=data_root,
                         data_prefix=data_prefix or dict(img_path=''),
                         pipeline=build_pipeline(pipeline),
                         test_mode=test_mode, **kwargs)

    def _given_classes(self) -> Optional[List[str]]:
        """Class names from the ``classes`` argument (a list, or a names
        file relative to ``data_root``), or None."""
        cls = self._classes_arg
        if cls is None:
            return None
        if isinstance(cls, str):
            path = cls if osp.isabs(cls) else osp.join(self.data_root, cls)
            return read_class_names(path)
        names = [str(c) for c in cls]
        if not names:
            raise ValueError('classes is an empty list')
        _check_unique(names, 'classes')
        return names

    def _set_classes(self, names: List[str]) -> None:
        self._metainfo['classes'] = tuple(names)

    @property
    def CLASSES(self):  # noqa: N802 (mmpretrain's spelling)
        return self._metainfo.get('classes')

    def get_gt_labels(self) -> List[int]:
        return [self.get_data_info(i)['gt_label'] for i in range(len(self))]


@DATASETS.register_module()
class ClassFolderDataset(_ClassificationBase):
    """Images in one folder per class: ``<root>/<class>/<image>``.

    Class names are the sub-folder names in sorted order (label = position),
    or the ``classes`` given (a list or a names file, one per line), in
    which case every listed class must have a folder and folders not
    listed are an error. Images are the files with an image extension,
    searched recursively inside each class folder, sorted.

    Fields of each sample (before the pipeline): ``img_path``, ``gt_label``
    (int), ``sample_idx``. The metainfo has ``classes`` (tuple of names).

    Args:
        data_root (str): Dataset root. Defaults to ''.
        data_prefix (dict): ``img_path``: the folder holding the class
            folders, relative to ``data_root``. Defaults to ``''``.
        classes (str | Sequence[str], optional): Class names, or a names
            file relative to ``data_root``.
        extensions (Sequence[str]): Accepted image extensions
            (case-insensitive).
        pipeline (Sequence): Transforms. Defaults to ().
        test_mode (bool): Defaults to False.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self, data_root: str = '', data_prefix: Optional[dict] = None,
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 pipeline: Sequence = (), test_mode: bool = False, **kwargs):
        self.extensions = tuple(e.lower() for e in extensions)
        super().__init__(data_root=data_root, data_prefix=data_prefix,
                         classes=classes, pipeline=pipeline,
                         test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = self.data_prefix['img_path'] or self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'class folder root not found: {root}; check data_root and '
                "data_prefix['img_path'] (expected <root>/<class>/<image>)")
        folders = sorted(d for d in os.listdir(root)
                         if osp.isdir(osp.join(root, d)))
        names = self._given_classes()
        if names is None:
            if not folders:
                raise ValueError(f'{root} has no class sub-folders (expected '
                                 '<root>/<class>/<image>)')
            names = folders
        else:
            missing = [n for n in names if n not in folders]
            extra = [f for f in folders if f not in names]
            if missing or extra:
                raise ValueError(
                    f'{root}: the class folders do not match the given '
                    f'classes: missing folders {missing}, folders not in '
                    f'classes {extra}; fix the names list or the folders')
        self._set_classes(names)
        data_list = []
        for label, name in enumerate(names):
            files = []
            for dirpath, _, filenames in os.walk(osp.join(root, name)):
                files += [osp.join(dirpath, f) for f in filenames
                          if f.lower().endswith(self.extensions)]
            if not files:
                raise ValueError(
                    f'class folder {osp.join(root, name)} holds no image '
                    f'with an extension in {self.extensions}')
            data_list += [dict(img_path=p, gt_label=label)
                          for p in sorted(files)]
        return data_list


@DATASETS.register_module()
class ClassAnnotationDataset(_ClassificationBase):
    """Images listed in an annotation file with their labels.

    Formats (chosen by the extension of ``ann_file``):

    - text (``.txt`` / anything but ``.json``): one ``<image> <label>`` per
      line, separated by the *last* whitespace (so paths may hold spaces);
      blank lines and lines starting with ``#`` are skipped;
    - json: a list of ``{"image": path, "label": label}``.

    A label is an integer class index or a class name. Class names come
    from ``classes`` (a list or a names file); without it, every label must
    be a name and the classes are the sorted distinct names. Relative image
    paths are joined with ``data_prefix['img_path']``.

    Fields of each sample: ``img_path``, ``gt_label`` (int),
    ``sample_idx``. The metainfo has ``classes``. Errors name the
    annotation file and the line (1-based) or record index (0-based).

    Args:
        ann_file (str): The annotation file, relative to ``data_root``.
        data_root (str): Dataset root. Defaults to ''.
        data_prefix (dict): ``img_path`` prefix of relative image paths.
        classes (str | Sequence[str], optional): Class names, or a names
            file relative to ``data_root``.
        check_files (bool): Check at load time that every image exists.
            Defaults to False.
        pipeline (Sequence): Transforms. Defaults to ().
        test_mode (bool): Defaults to False.
        made_by (str, optional): The command that writes ``ann_file``
            (e.g. a converter), named in the error when the file is
            missing.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self, ann_file: str, data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 check_files: bool = False, pipeline: Sequence = (),
                 test_mode: bool = False, made_by: Optional[str] = None,
                 **kwargs):
        self.check_files = check_files
        self.made_by = made_by
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=data_prefix, classes=classes,
                         pipeline=pipeline, test_mode=test_mode, **kwargs)

    def _read_records(self) -> List[tuple]:
        """``(where, image, label)`` triples of the annotation file."""
        path = self.ann_file
        if not osp.isfile(path):
            fix = f'create it with `{self.made_by}`, or check' \
                if self.made_by else 'check'
            raise FileNotFoundError(
                f'annotation file not found: {path}; {fix} data_root and '
                'ann_file in the dataset config')
        records = []
        if path.endswith('.json'):
            data = read_json(path)
            if not isinstance(data, list):
                raise ValueError(f'{path} must hold a json list of '
                                 '{"image": ..., "label": ...} records')
            for i, rec in enumerate(data):
                if not isinstance(rec, dict) or 'image' not in rec or \
                        'label' not in rec:
                    raise ValueError(f'{path} record {i}: expected a dict '
                                     f'with "image" and "label", got {rec!r}')
                records.append((f'{path} record {i}', rec['image'],
                                rec['label']))
            return records
        try:
            with open(path, encoding='utf-8') as f:
                lines = f.readlines()
        except UnicodeDecodeError as err:
            raise not_utf8_error(path, err) from err
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise ValueError(f'{path} line {n}: expected "<image> '
                                 f'<label>", got {line!r}')
            label = parts[1]
            records.append((f'{path} line {n}', parts[0],
                            int(label) if label.lstrip('-').isdigit()
                            else label))
        return records

    def load_data_list(self) -> List[dict]:
        records = self._read_records()
        if not records:
            raise ValueError(f'{self.ann_file} lists no images')
        names = self._given_classes()
        if names is None:
            ints = [w for w, _, lab in records if isinstance(lab, int)]
            if ints:
                raise ValueError(
                    f'{ints[0]}: integer labels need the class names; set '
                    '`classes` (a list or a names file)')
            names = sorted({str(lab) for _, _, lab in records})
        index = {n: i for i, n in enumerate(names)}
        self._set_classes(names)
        prefix = self.data_prefix['img_path']
        data_list = []
        for where, image, label in records:
            if isinstance(label, int):
                if not 0 <= label < len(names):
                    raise ValueError(f'{where}: label {label} is not in '
                                     f'[0, {len(names)})')
            else:
                if str(label) not in index:
                    raise ValueError(f'{where}: unknown class {label!r}; '
                                     f'known classes: {names}')
                label = index[str(label)]
            img_path = image if osp.isabs(image) else osp.join(prefix, image)
            if self.check_files and not osp.isfile(img_path):
                raise FileNotFoundError(f'{where}: image {img_path} does '
                                        'not exist')
            data_list.append(dict(img_path=img_path, gt_label=label))
        return data_list
