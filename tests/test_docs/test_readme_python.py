"""README's "Python API" example runs as printed, in a folder laid out as
the "Get started" command leaves it (Shapes data, the tiny pre-trained
checkpoint in work_dirs/, the configs), with the tiny model's weights."""
import contextlib
import io
import os
import os.path as osp
import re

import torch

from albef_mm.apis import get_model
from albef_mm.datasets import generate_shapes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def readme_python_block() -> str:
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    section = text[text.index('\n## Python API\n'):]
    section = section[:section.index('\n## ', 1)]
    blocks = re.findall(r'```python\n(.*?)```', section, re.S)
    assert blocks, 'README has no Python block under "## Python API"'
    return blocks[0]


def test_readme_python_block_runs_as_printed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    generate_shapes('data/shapes', num_train=8, num_val=4, num_test=4)
    os.symlink(osp.join(REPO, 'configs'), 'configs')
    torch.manual_seed(0)
    tiny = get_model('albef_tiny_shapes', pretrained=False)
    os.makedirs('work_dirs/pretrain_shapes_tiny')
    torch.save({'state_dict': tiny.state_dict()},
               'work_dirs/pretrain_shapes_tiny/epoch_6.pth')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_python_block(), 'README.md', 'exec'), {})
    printed = out.getvalue()
    assert "'albef_retrieval_coco'" in printed
    assert 'https://storage.googleapis.com/sfr-pcl-data-research/ALBEF/' \
        'vqa.pth' in printed
    assert 'python tools/test.py configs/albef/vqa.py albef_vqa' in printed
    assert "'pred_class'" in printed and "'itm'" in printed
