"""GroundingAccuracy: the original's scoring where it is defined, the
documented choices where it is not."""
import math

import pytest
import torch
import torch.nn.functional as F

from albef_mm.evaluation.metrics.grounding import (GroundingAccuracy,
                                                   compute_iou,
                                                   ground_expression,
                                                   score_proposals,
                                                   select_proposal,
                                                   upsample_heatmap)


def original_pick(heatmap, dets, height, width, alpha=0.5, previous=None):
    """The original ranking loop, written out (incl. the stale box)."""
    mask = F.interpolate(heatmap.view(1, 1, *heatmap.shape),
                         size=(height, width), mode='bicubic').squeeze()
    max_score, pred = 0, previous
    for det in dets:
        score = mask[int(det[1]):int(det[1] + det[3]),
                     int(det[0]):int(det[0] + det[2])]
        score = score.sum() / (det[2] * det[3]) ** alpha
        if score > max_score:
            pred, max_score = det[:4], score
    return pred


def sample(heatmap, proposals, gt, split='val', size=(40, 60)):
    return dict(pred_heatmap=heatmap, proposals=proposals, gt_bbox=gt,
                ref_split=split, gt_image_size=size)


def evaluate(samples, **kwargs):
    metric = GroundingAccuracy(**kwargs)
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def test_iou_inclusive_corners():
    assert compute_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    # inclusive corners: overlap 5x10 = 50 pixels, union 150
    assert compute_iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(
        50 / 150)
    # a single shared column is no overlap (x1 < x2 is strict)
    assert compute_iou([0, 0, 10, 10], [9, 0, 10, 10]) == 0.0
    assert compute_iou([0, 0, 10, 10], [20, 20, 5, 5]) == 0.0
    assert compute_iou([0, 0, 0, 0], [3, 3, 0, 0]) == 0.0  # empty union


def test_upsampling_is_torch_bicubic():
    heat = torch.rand(4, 4)
    full = upsample_heatmap(heat, 40, 60)
    assert full.shape == (40, 60)
    torch.testing.assert_close(full, F.interpolate(
        heat[None, None], size=(40, 60), mode='bicubic',
        align_corners=False)[0, 0])


def test_matches_original_where_defined():
    g = torch.Generator().manual_seed(0)
    for trial in range(30):
        heat = torch.rand(4, 4, generator=g)
        dets = []
        for _ in range(6):
            x, y = (float(v) for v in torch.rand(2, generator=g) * 50)
            w, h = (float(v) for v in torch.rand(2, generator=g) * 30 + 1)
            dets.append([x, y, w, h])  # some reach past the image edge
        assert ground_expression(heat, dets, (40, 60)) == \
            original_pick(heat, dets, 40, 60), trial


def test_box_past_the_edge_keeps_its_full_area():
    full = torch.ones(10, 10)
    # 4x4 visible of an 8x8 box: 16 / sqrt(64)
    assert score_proposals(full, [[6, 6, 8, 8]]) == [16 / 8]
    # float coordinates truncate after adding (int(y + h))
    assert score_proposals(full, [[0.5, 0.5, 2.9, 2.9]]) == [
        9 / math.sqrt(2.9 * 2.9)]


def test_negative_coordinates_are_clipped():
    full = torch.ones(10, 10)
    # the original slices map[-2:3] (empty); clipped: rows/cols 0..2
    assert score_proposals(full, [[-2, -2, 5, 5]]) == [9 / 5]
    assert score_proposals(full, [[-8, 0, 5, 5]]) == [0.0]  # fully outside


def test_zero_area_proposals_are_skipped():
    full = torch.ones(10, 10)
    scores = score_proposals(full, [[1, 1, 0, 5], [1, 1, 5, 0], [0, 0, 2, 2]])
    assert math.isnan(scores[0]) and math.isnan(scores[1])
    assert select_proposal(scores) == 2


def test_ties_pick_the_first_and_only_positive_scores_count():
    assert select_proposal([1.0, 2.0, 2.0]) == 1
    assert select_proposal([0.0, -1.0, float('nan')]) is None


def test_no_positive_proposal_is_a_miss_not_the_previous_box():
    hit = sample(torch.ones(4, 4), [[0, 0, 20, 20]], [0, 0, 20, 20])
    # the map is zero where the proposals are: the original would reuse the
    # previous expression's box [0, 0, 20, 20], which is this gt as well
    zero = torch.zeros(4, 4)
    zero[0, 0] = 1.0
    stale = sample(zero, [[40, 30, 20, 10]], [0, 0, 20, 20])
    assert original_pick(zero, [[40, 30, 20, 10]], 40, 60,
                         previous=[0, 0, 20, 20]) == [0, 0, 20, 20]
    res = evaluate([hit, stale])
    assert res['val_d'] == 0.5
    assert res['num_no_positive'] == 1


def test_image_without_proposals_is_a_miss():
    res = evaluate([sample(torch.ones(4, 4), [], [0, 0, 5, 5])])
    assert res == dict(val_d=0.0, num_val=1, num_no_proposals=1,
                       num_no_positive=0)


def test_accuracy_per_split_and_baselines():
    heat = torch.zeros(4, 4)
    heat[:2, :2] = 1.0  # top-left quarter of a 40x60 image
    props = [[0, 0, 30, 20], [30, 20, 30, 20], [0, 20, 60, 20]]
    samples = [
        sample(heat, props, [0, 0, 30, 20], 'testA'),   # hit
        sample(heat, props, [30, 20, 30, 20], 'testA'),  # miss
        sample(heat, props, [0, 20, 60, 20], 'testB'),   # miss
    ]
    res = evaluate(samples, baselines=True)
    assert res['testA_d'] == 0.5 and res['testB_d'] == 0.0
    assert res['num_testA'] == 2 and res['num_testB'] == 1
    assert 'val_d' not in res  # absent split: no division by zero
    # the largest proposal (60x20) hits the testB ground truth and, at
    # IoU exactly 0.5, the second testA one
    assert res['testA_d_largest'] == 0.5 and res['testB_d_largest'] == 1.0
    # 1 of 3 proposals hits the first testA gt, 2 of 3 the second
    assert res['testA_d_random'] == pytest.approx((1 / 3 + 2 / 3) / 2)


def test_missing_fields_name_the_fix():
    metric = GroundingAccuracy()
    with pytest.raises(KeyError, match="lacks \\['gt_bbox'"):
        metric.process(None, [dict(pred_heatmap=torch.ones(2, 2),
                                   proposals=[], ref_split='val',
                                   gt_image_size=(4, 4))])


def _heatmap_samples():
    gt = [0, 0, 10, 10]
    return [dict(sample(torch.full((2, 2), float(i + 1)), [gt], gt,
                        split=split), ref_id=torch.tensor(100 + i))
            for i, split in enumerate(['testA', 'testB', 'testA'])]


def _run(metric, samples, stage=None, epoch=None):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    for key, value in (('loop_stage', stage), ('epoch', epoch)):
        if value is None:
            hub.pop_info(key, None)
        else:
            hub.update_info(key, value)
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    metric.results.clear()
    return out


def test_heatmap_file_in_the_original_format(tmp_path):
    metric = GroundingAccuracy()
    metric.set_work_dir(str(tmp_path))
    samples = _heatmap_samples()
    # a test after training (the epoch of the last training epoch is still
    # known) names no epoch: the tested weights may be another epoch's
    _run(metric, samples, stage='test', epoch=4)
    path = tmp_path / 'grounding_heatmaps' / 'test_testA_testB.pth'
    maps = torch.load(path, weights_only=True)
    # Grounding.py's list: {'ref_id', 'pred'} per expression, in order
    assert [sorted(m) for m in maps] == [['pred', 'ref_id']] * 3
    assert [m['ref_id'] for m in maps] == [100, 101, 102]
    for m, s in zip(maps, samples):
        assert m['pred'].dtype == torch.float32
        torch.testing.assert_close(m['pred'], s['pred_heatmap'])
    # later test runs keep the earlier files
    _run(metric, samples, stage='test')
    _run(metric, samples, stage='test')
    assert sorted(p.name for p in (tmp_path / 'grounding_heatmaps').iterdir()
                  ) == ['test_testA_testB.pth', 'test_testA_testB_1.pth',
                        'test_testA_testB_2.pth']
    assert len(torch.load(path, weights_only=True)) == 3
    # validation during training: named after the trained epoch (1-based)
    _run(metric, [dict(s, ref_split='val') for s in samples], stage='val',
         epoch=2)
    assert (tmp_path / 'grounding_heatmaps' / 'val_val_epoch_3.pth'
            ).is_file()
    assert not [p for p in (tmp_path / 'grounding_heatmaps').iterdir()
                if '.tmp-' in p.name]


def test_heatmap_file_opt_out_and_outside_a_runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    metric = GroundingAccuracy(save_heatmaps=False)
    metric.set_work_dir(str(tmp_path / 'work'))
    assert _run(metric, _heatmap_samples(), stage='test')['testA_d'] == 1.0
    assert not (tmp_path / 'work').exists()
    # no work dir (no runner): nothing written anywhere
    metric = GroundingAccuracy()
    _run(metric, _heatmap_samples(), stage='test')
    assert list(tmp_path.iterdir()) == []


def test_heatmap_file_needs_ref_ids(tmp_path):
    metric = GroundingAccuracy()
    metric.set_work_dir(str(tmp_path))
    bad = [dict(s) for s in _heatmap_samples()]
    del bad[1]['ref_id']
    with pytest.raises(KeyError, match='sample 1 has no ref_id.*'
                       'save_heatmaps=False'):
        metric.process(None, bad)


def test_iou_of_exactly_the_threshold_is_a_hit():
    gt, box = [0, 0, 10, 10], [0, 0, 10, 5]
    assert compute_iou(gt, box) == 0.5  # 50 / (100 + 50 - 50)
    metric = GroundingAccuracy()
    metric.process(None, [dict(pred_heatmap=torch.ones(4, 4),
                               proposals=[box], gt_bbox=gt, ref_split='val',
                               gt_image_size=(20, 20))])
    assert metric.compute_metrics(metric.results)['val_d'] == 1.0
