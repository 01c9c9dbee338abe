"""Catalogue: outputs that could destroy inputs or lose results.

No command overwrites a file it read, a file it did not create (without
an explicit flag) or the target of a symbolic link; every result is
written under the key it was read with.
"""
import json
import os

import pytest
from mmengine.config import Config

from albef_mm.evaluation.metrics.vqa import VQAResultWriter


def _ann(tmp_path, ids, name='test.json'):
    path = tmp_path / name
    path.write_text(json.dumps([dict(question_id=q, question='what?',
                                     image='a.jpg', dataset='vqa')
                                for q in ids]))
    return path


def _write(tmp_path, ids, preds, out='result.json', **kwargs):
    writer = VQAResultWriter(ann_file=str(_ann(tmp_path, ids)),
                             out_file=str(tmp_path / out), **kwargs)
    writer.process(None, [dict(question_id=q, pred_answer=a)
                          for q, a in preds])
    return writer, writer.compute_metrics(writer.results)


# ------------------------------------------------------ VQA result writer
@pytest.mark.parametrize('ids', [(1.9, 1), ('007', 7), (True, 1)])
def test_vqa_ids_of_other_types_are_not_merged(tmp_path, ids):
    # int() used to make 1.9 -> 1, '007' -> 7, True -> 1 (one answer lost);
    # a float / bool id is now refused naming the record, '007' is kept
    if all(isinstance(q, (str, int)) and not isinstance(q, bool)
           for q in ids):
        _write(tmp_path, ids, [(ids[0], 'a'), (ids[1], 'b')])
        out = json.loads((tmp_path / 'result.json').read_text())
        assert out == [dict(question_id='007', answer='a'),
                       dict(question_id=7, answer='b')]
    else:
        with pytest.raises(ValueError, match=r'VQAResultWriter: sample 0 of '
                           r'a batch: "question_id" must be an integer or a '
                           rf'non-empty string, got {ids[0]!r}'):
            _write(tmp_path, ids, [(ids[0], 'a'), (ids[1], 'b')])


def test_vqa_two_questions_sharing_an_id_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r'test\.json, record 1: question_id'
                       r' 5 is also the id of .*test\.json, record 0'):
        _write(tmp_path, (5, 5), [(5, 'red'), (5, 'blue')])
    assert not (tmp_path / 'result.json').exists()


def test_vqa_out_file_equal_to_the_annotation_is_refused(tmp_path):
    ann = _ann(tmp_path, (1, 2))
    before = ann.read_text()
    writer = VQAResultWriter(ann_file=str(ann), out_file=str(ann))
    writer.process(None, [dict(question_id=1, pred_answer='a'),
                          dict(question_id=2, pred_answer='b')])
    with pytest.raises(FileExistsError, match=r'out_file .*test\.json is the '
                       r'annotation file'):
        writer.compute_metrics(writer.results)
    assert ann.read_text() == before


def test_vqa_symlinked_out_file_is_refused(tmp_path):
    target = tmp_path / 'precious.txt'
    target.write_text('keep me')
    os.symlink(target, tmp_path / 'result.json')
    with pytest.raises(FileExistsError, match=r'result\.json is a symbolic '
                       r'link; refusing to write through it .*precious'):
        _write(tmp_path, (1, ), [(1, 'a')])
    assert target.read_text() == 'keep me'
    assert os.path.islink(tmp_path / 'result.json')


def test_vqa_foreign_out_file_needs_overwrite(tmp_path):
    (tmp_path / 'result.json').write_text('my notes')
    with pytest.raises(FileExistsError, match=r'result\.json exists and is '
                       r'not a VQA result file .*overwrite=True'):
        _write(tmp_path, (1, ), [(1, 'a')])
    assert (tmp_path / 'result.json').read_text() == 'my notes'
    # valid json that is not a result file: e.g. another annotation file
    records = [dict(question_id=1, question='what?')]
    (tmp_path / 'result.json').write_text(json.dumps(records))
    with pytest.raises(FileExistsError, match=r'is not a VQA result file'):
        _write(tmp_path, (1, ), [(1, 'a')])
    assert json.loads((tmp_path / 'result.json').read_text()) == records
    _write(tmp_path, (1, ), [(1, 'a')], overwrite=True)  # the flag works
    # an earlier run's result file is replaced without the flag
    _write(tmp_path, (1, ), [(1, 'b')])
    assert json.loads((tmp_path / 'result.json').read_text()) == [
        dict(question_id=1, answer='b')]


def test_vqa_result_file_follows_the_work_dir(tmp_path):
    from mmengine.registry import init_default_scope

    from albef_mm.engine.runner import ALBEFRunner
    init_default_scope('albef_mm')
    ann = _ann(tmp_path, (1, ))
    cfg = Config.fromfile(os.path.join(
        os.path.dirname(__file__), '..', '..', 'configs', '_base_',
        'datasets', 'vqa.py'))
    assert os.path.dirname(cfg.test_evaluator.out_file) == ''
    runner = ALBEFRunner.__new__(ALBEFRunner)  # only build_evaluator
    runner._work_dir = str(tmp_path / 'my_run')
    evaluator = runner.build_evaluator(dict(
        type='VQAResultWriter', ann_file=str(ann),
        out_file=cfg.test_evaluator.out_file))
    writer = evaluator.metrics[0]
    writer.process(None, [dict(question_id=1, pred_answer='a')])
    writer.compute_metrics(writer.results)
    assert json.loads((tmp_path / 'my_run' / 'vqa_result.json')
                      .read_text()) == [dict(question_id=1, answer='a')]


# ------------------------------------------- config dump, --out preds.pkl
def _bare_runner(cfg_file, work_dir):
    from albef_mm.engine.runner import ALBEFRunner
    runner = ALBEFRunner.__new__(ALBEFRunner)  # only dump_config
    runner.cfg = Config.fromfile(str(cfg_file))
    runner._work_dir = str(work_dir)
    return runner


def test_config_dump_through_a_symlink_is_refused(tmp_path):
    (tmp_path / 'my_cfg.py').write_text('a = 1\n')
    work = tmp_path / 'work'
    work.mkdir()
    target = tmp_path / 'precious.py'
    target.write_text('keep me')
    os.symlink(target, work / 'my_cfg.py')
    with pytest.raises(FileExistsError, match=r'work/my_cfg\.py is a '
                       r'symbolic link; refusing to write the config dump '
                       r'through it .*precious\.py'):
        _bare_runner(tmp_path / 'my_cfg.py', work).dump_config()
    assert target.read_text() == 'keep me'


def test_config_dump_over_the_config_being_run_is_skipped(tmp_path):
    cfg = tmp_path / 'my_cfg.py'
    cfg.write_text("_base_ = []\na = 1  # my comment\n")
    runner = _bare_runner(cfg, tmp_path)
    records = []
    runner.logger = type('Log', (), {'info': staticmethod(records.append)})
    runner.dump_config()
    assert cfg.read_text() == "_base_ = []\na = 1  # my comment\n"
    assert records == [f'config dump skipped: {cfg} is the config being '
                       'run (left as it is)']
    _bare_runner(cfg, tmp_path / 'work').dump_config()  # elsewhere: written
    assert Config.fromfile(str(tmp_path / 'work' / 'my_cfg.py')).a == 1


def test_test_out_pickle_through_a_symlink_is_refused(tmp_path):
    from mmengine.registry import init_default_scope

    from albef_mm.registry import METRICS
    init_default_scope('albef_mm')
    target = tmp_path / 'precious.txt'
    target.write_text('keep me')
    os.symlink(target, tmp_path / 'preds.pkl')
    # what tools/test.py --out adds to the test evaluator
    metric = METRICS.build(dict(type='DumpResults',
                                out_file_path=str(tmp_path / 'preds.pkl')))
    metric.process(None, [dict(pred=1)])
    with pytest.raises(FileExistsError, match=r'preds\.pkl is a symbolic '
                       r'link; refusing to write through it'):
        metric.compute_metrics(metric.results)
    assert target.read_text() == 'keep me'
    os.remove(tmp_path / 'preds.pkl')
    metric.compute_metrics(metric.results)
    import pickle
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        assert pickle.load(f) == [dict(pred=1)]


def test_vqa_writer_annotation_not_utf8_names_the_file(tmp_path):
    ann = tmp_path / 'test.json'
    ann.write_bytes('[{"question_id": 1, "question": "caf\xe9?"}]'
                    .encode('latin1'))
    writer = VQAResultWriter(ann_file=str(ann),
                             out_file=str(tmp_path / 'result.json'))
    writer.process(None, [dict(question_id=1, pred_answer='a')])
    with pytest.raises(ValueError, match=r'test\.json is not UTF-8 text '
                       r'\(byte \d+: invalid continuation byte\)'):
        writer.compute_metrics(writer.results)
    assert not (tmp_path / 'result.json').exists()
