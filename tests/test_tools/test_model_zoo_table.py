"""tools/analysis/model_zoo_table.py prints one row per registered model
with its weights, the paper's numbers and its evaluation command, all read
from the metafile."""

from albef_mm.apis import list_models
from helpers.scripts import load_script



def _tool():
    return load_script('tools', 'analysis', 'model_zoo_table.py')


def test_one_row_per_model_with_paper_numbers_and_command(capsys):
    assert _tool().main([]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[2:]
    assert [r.split('|')[1].strip(' `') for r in rows] == list_models()
    vqa = next(r for r in rows if r.startswith('| `albef_vqa` |'))
    assert '[vqa.pth](https://storage.googleapis.com/sfr-pcl-data-research' \
        '/ALBEF/vqa.pth)' in vqa
    assert 'VQA v2: test-dev 75.84, test-std 76.04' in vqa
    assert '`python tools/test.py configs/albef/vqa.py albef_vqa`' in vqa
    nlvr = next(r for r in rows if r.startswith('| `albef_4m_nlvr2` |'))
    assert 'not released' in nlvr and 'CHECKPOINT' in nlvr
    assert 'dev 80.24, test-P 80.5' in nlvr


def test_filters(capsys):
    _tool().main(['--task', 'grounding'])
    rows = capsys.readouterr().out.strip().splitlines()[2:]
    assert len(rows) == len(list_models(task='grounding')) >= 1
    _tool().main(['--pattern', '*shapes*'])
    rows = capsys.readouterr().out.strip().splitlines()[2:]
    assert all('shapes' in r.split('|')[1] for r in rows) and rows
    assert all('trained locally' in r for r in rows)
