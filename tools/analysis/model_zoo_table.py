"""Print the model-zoo table (markdown) from the one model-zoo source,
``configs/albef/metafile.yml``: per registered model its config, weights,
the paper's numbers and the one command that evaluates it.

Usage:
    python tools/analysis/model_zoo_table.py [--task TASK] [--pattern GLOB]
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from albef_mm.utils.model_index import list_models, model_info


def _weights(info: dict) -> str:
    weights = info['weights']
    if weights is None:
        return 'not released'
    if weights.startswith(('http://', 'https://')):
        return f'[{osp.basename(weights)}]({weights})'
    return f'`{weights}` (trained locally)'


def _results(info: dict) -> str:
    parts = []
    for result in info['results']:
        metrics = ', '.join(f'{k} {v}' for k, v in result['Metrics'].items())
        parts.append(f'{result["Dataset"]}: {metrics}')
    return '; '.join(parts) or '—'


def table(task: Optional[str] = None,
          pattern: Optional[str] = None) -> List[str]:
    """The markdown lines of the table (header first)."""
    lines = ['| model | config | weights | paper | evaluate |',
             '| --- | --- | --- | --- | --- |']
    for name in list_models(pattern, task):
        info = model_info(name)
        lines.append(f'| `{name}` | `{osp.basename(info["config"])}` | '
                     f'{_weights(info)} | {_results(info)} | '
                     f'`{info["evaluate"]}` |')
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--task', help='only this task (pretrain, '
                        'retrieval, vqa, nlvr2, snli_ve, grounding, '
                        'classification)')
    parser.add_argument('--pattern', help="names matching this glob, e.g. "
                        "'albef_4m*'")
    args = parser.parse_args(argv)
    print('\n'.join(table(args.task, args.pattern)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
