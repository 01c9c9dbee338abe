"""Export shape-name and colour classification splits of the Shapes
benchmark as annotation files (image, label) for ``ClassAnnotationDataset``.

Reads only ``scenes.json`` (the generator's ground truth) and writes, next
to the generator's files and without touching them::

    <shapes_dir>/classification/classes_shape.txt   one name per line
                                classes_color.txt
                                shape_{train,val,test}.txt  "<image> <class>"
                                color_{train,val,test}.txt

An image is kept for an attribute when its label is unambiguous:
``--mode uniform`` (default) keeps images whose objects all share the
attribute value (e.g. two crosses for "shape"), ``--mode single`` only
images with exactly one object. Image paths are relative to
``<shapes_dir>`` (the dataset's ``data_root``). Class names are the sorted
values found in the scenes.

Usage:
    python tools/dataset_converters/shapes_classification.py data/shapes
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List

ATTRIBUTES = ('shape', 'color')
SPLITS = ('train', 'val', 'test')


def _load_scenes(path: str) -> list:
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: generate the benchmark first with '
            'tools/dataset_converters/generate_shapes.py')
    with open(path, encoding='utf-8') as f:
        scenes = json.load(f)
    if not isinstance(scenes, list):
        raise ValueError(f'{path} must hold a list of scenes')
    for i, scene in enumerate(scenes):
        if not isinstance(scene, dict) or not {'image', 'split', 'objects'} \
                <= set(scene) or not scene['objects']:
            raise ValueError(f'{path} record {i}: expected a dict with '
                             '"image", "split" and a non-empty "objects"')
        for j, obj in enumerate(scene['objects']):
            missing = [a for a in ATTRIBUTES if a not in obj]
            if missing:
                raise ValueError(f'{path} record {i} object {j} lacks '
                                 f'{missing}')
    return scenes


def export_shapes_classification(shapes_dir: str,
                                 out_dir: str = None,
                                 mode: str = 'uniform') -> Dict[str, int]:
    """Write the classification files; returns the line count per file.

    Args:
        shapes_dir: The generated Shapes folder (holds ``scenes.json``).
        out_dir: Output folder; defaults to ``<shapes_dir>/classification``.
        mode: ``'uniform'`` or ``'single'`` (see the module doc).
    """
    if mode not in ('uniform', 'single'):
        raise ValueError(f"mode must be 'uniform' or 'single', got {mode!r}")
    scenes = _load_scenes(osp.join(shapes_dir, 'scenes.json'))
    out_dir = out_dir or osp.join(shapes_dir, 'classification')
    os.makedirs(out_dir, exist_ok=True)
    counts = {}
    for attr in ATTRIBUTES:
        names = sorted({o[attr] for s in scenes for o in s['objects']})
        with open(osp.join(out_dir, f'classes_{attr}.txt'), 'w',
                  encoding='utf-8') as f:
            f.write('\n'.join(names) + '\n')
        counts[f'classes_{attr}.txt'] = len(names)
        lines: Dict[str, List[str]] = {s: [] for s in SPLITS}
        for scene in scenes:
            values = {o[attr] for o in scene['objects']}
            if mode == 'single' and len(scene['objects']) != 1:
                continue
            if len(values) != 1 or scene['split'] not in lines:
                continue
            lines[scene['split']].append(f"{scene['image']} {values.pop()}")
        for split, rows in lines.items():
            name = f'{attr}_{split}.txt'
            with open(osp.join(out_dir, name), 'w', encoding='utf-8') as f:
                f.write('\n'.join(rows) + ('\n' if rows else ''))
            counts[name] = len(rows)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('shapes_dir', nargs='?', default='data/shapes')
    parser.add_argument('--out-dir', help='default: SHAPES_DIR/classification')
    parser.add_argument('--mode', default='uniform',
                        choices=['uniform', 'single'])
    args = parser.parse_args(argv)
    counts = export_shapes_classification(args.shapes_dir, args.out_dir,
                                          args.mode)
    for name, n in counts.items():
        print(f'{name}: {n}')


if __name__ == '__main__':
    main()
