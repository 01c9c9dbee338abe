"""``DumpResults`` (``tools/test.py --out preds.pkl``) that cannot replace
a file it should not: the predictions are pickled atomically, never
through a symbolic link."""
import os.path as osp
import pickle

from mmengine.evaluator import DumpResults
from mmengine.logging import print_log

from albef_mm.utils.atomic_io import atomic_path
from albef_mm.registry import METRICS


@METRICS.register_module(name='DumpResults')
class AtomicDumpResults(DumpResults):
    """MMEngine's ``DumpResults`` (same arguments), registered under the
    same name in albef_mm's scope so that ``tools/test.py --out`` and any
    config's ``dict(type='DumpResults')`` use it.

    Differences: an ``out_file_path`` that is a symbolic link is refused
    (MMEngine's writes through it and replaces the link's target, e.g. a
    file outside the work dir), and the file is written atomically (a
    killed run leaves the previous file, not half a pickle).
    """

    def compute_metrics(self, results: list) -> dict:
        path = self.out_file_path
        if osp.islink(path):
            raise FileExistsError(
                f'DumpResults: {path} is a symbolic link; refusing to write '
                f'through it (it would replace {osp.realpath(path)}): '
                'choose another --out')
        with atomic_path(path) as tmp:
            with open(tmp, 'wb') as f:
                pickle.dump(results, f, protocol=2)  # as MMEngine
        print_log(f'Results has been saved to {path}.', logger='current')
        return {}
