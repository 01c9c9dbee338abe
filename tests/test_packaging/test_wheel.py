"""The package as a user installs it: a wheel built from the repository,
installed outside it (``--no-deps --target`` on top of the test
environment), used from a folder that is not the clone. There it lists the
models, builds every registered config (on the meta device), loads a tiny
checkpoint by path and answers one inferencer call. Runs everywhere, CI
included (nothing here needs the network)."""
import glob
import os
import os.path as osp
import subprocess
import sys
import textwrap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SCRIPT = textwrap.dedent('''
    import os.path as osp, sys
    import numpy as np, torch
    import albef_mm
    from albef_mm.apis import (ZeroShotClassificationInferencer, get_model,
                               list_models)
    from albef_mm.utils import config_root
    site, vocab, ckpt = sys.argv[1:]
    assert albef_mm.__file__.startswith(site), albef_mm.__file__
    assert config_root() == osp.join(site, 'albef_mm', '.mim', 'configs')
    names = list_models()
    for name in names:
        model = get_model(name, pretrained=False, device='meta')
        assert next(model.parameters()).is_meta, name
    options = {'model.data_preprocessor.tokenizer.name_or_path': vocab}
    torch.manual_seed(0)
    tiny = get_model('albef_tiny_shapes', pretrained=False,
                     cfg_options=options)
    torch.save({'state_dict': tiny.state_dict()}, ckpt)
    model = get_model('albef_tiny_shapes', checkpoint=ckpt,
                      cfg_options=options)
    assert torch.equal(model.itm_head.fc.weight, tiny.itm_head.fc.weight)
    inf = ZeroShotClassificationInferencer('albef_tiny_shapes_zeroshot',
                                           ckpt, cfg_options=options)
    (result, ) = inf(np.zeros((64, 64, 3), np.uint8),
                     classnames=['red', 'blue'])
    print('MODELS', len(names), 'PRED', result['pred_class'])
''')


def test_wheel_installed_outside_the_repository(tmp_path):
    dist = tmp_path / 'dist'
    build = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(dist), REPO],
        capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel, ) = glob.glob(str(dist / 'albef_mm-*.whl'))
    site = tmp_path / 'site'
    install = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
         '--target', str(site), wheel],
        capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    assert osp.isfile(site / 'albef_mm' / '.mim' / 'configs' / 'albef' /
                      'metafile.yml')
    assert not osp.exists(site / 'configs')  # nothing at the top level
    work = tmp_path / 'elsewhere'
    os.makedirs(work)
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1',
               HF_HUB_OFFLINE='1')
    run = subprocess.run(
        [sys.executable, '-c', SCRIPT, str(site),
         osp.join(REPO, 'tests', 'data', 'tiny_vocab'),
         str(tmp_path / 'tiny.pth')],
        cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout.strip().splitlines()[-1].split()  # after the logs
    assert out[0] == 'MODELS' and int(out[1]) >= 20
    assert out[3] in ('red', 'blue')
