"""Weakly supervised grounding accuracy: Grad-CAM heat maps rank detector
proposals (ALBEF ``Grounding.py`` + ``dataset/utils.py: grounding_eval``).

Scoring, as the original:

- the heat map ``[h, w]`` is upsampled bicubically (``align_corners=False``)
  to the image size ``(H, W)`` given by the annotations;
- a proposal ``[x, y, w, h]`` scores ``sum(map[int(y):int(y + h),
  int(x):int(x + w)]) / (w * h) ** alpha`` (alpha 0.5): the rows/columns
  past the image edge are simply cut off, the area is the full ``w * h``;
- the highest score wins, the first one on ties (a strict ``>``);
- a hit when ``IoU(prediction, ground truth) >= 0.5`` with the original's
  inclusive corners (``x2 = x + w - 1``; overlap only when
  ``x1 < x2 and y1 < y2``, area ``(x2 - x1 + 1) * (y2 - y1 + 1)``,
  union ``w1 * h1 + w2 * h2 - overlap``);
- accuracy per REFER split as ``<split>_d`` (``val_d``, ``testA_d``,
  ``testB_d``; ``test_d`` for RefCOCOg).

Where the original is undefined or accidental, this implementation does
the following (counted in ``num_*`` entries of the results):

- **no proposal scores above 0** (an all-zero map over the proposals, or
  no proposals for the image): the original keeps the box predicted for
  the *previous* expression (or crashes on the first one); here the
  expression gets no prediction and counts as a miss (``num_no_positive``,
  ``num_no_proposals``);
- **negative coordinates**: the original's slice ``map[-3:7]`` wraps around
  to the far edge of the image (usually an empty slice, score 0); here the
  slice starts at 0, i.e. the box is clipped to the image as it already
  is at the far edge;
- **zero-width or zero-height proposals**: the original divides 0 by 0
  (NaN, never selected); here they are skipped, the same outcome without
  NaN;
- **zero union** in the IoU (two empty boxes): IoU 0 instead of a
  ZeroDivisionError;
- a split without expressions is left out of the results instead of
  dividing by zero.

Heat-map file (``save_heatmaps=True``, the default): as ``Grounding.py``
saves every expression's map per epoch (``collect_result(..., is_json=False,
is_list=True)``), each evaluation writes ``<work_dir>/grounding_heatmaps/
<stage>_<splits>[_epoch_<N>].pth`` (e.g. ``val_val_epoch_3.pth`` after
training epoch 3, ``test_testA_testB.pth`` for a test run; a test file that
exists gets a ``_1``, ``_2``, ... suffix instead of being replaced): a
``torch.save`` list in the original's format, one entry per expression in
evaluation order, ``{'ref_id': int, 'pred': float32 tensor [h, w]}`` (the
Grad-CAM map before upsampling, 24 x 24 for 384 px). It loads with
``torch.load(path, weights_only=True)``. Written atomically, only when the
metric knows the run's work dir (the runner sets it); ``save_heatmaps=
False`` turns it off.
"""
import math
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import MessageHub, print_log

from albef_mm.utils.atomic_io import atomic_path
from albef_mm.registry import METRICS

Box = Sequence[float]


def compute_iou(box1: Box, box2: Box) -> float:
    """IoU of two ``[x, y, w, h]`` boxes with the original's inclusive
    corner arithmetic (0 for an empty union)."""
    inter_x1 = max(box1[0], box2[0])
    inter_y1 = max(box1[1], box2[1])
    inter_x2 = min(box1[0] + box1[2] - 1, box2[0] + box2[2] - 1)
    inter_y2 = min(box1[1] + box1[3] - 1, box2[1] + box2[3] - 1)
    if inter_x1 < inter_x2 and inter_y1 < inter_y2:
        inter = (inter_x2 - inter_x1 + 1) * (inter_y2 - inter_y1 + 1)
    else:
        inter = 0
    union = box1[2] * box1[3] + box2[2] * box2[3] - inter
    return float(inter) / union if union > 0 else 0.0


def upsample_heatmap(heatmap: torch.Tensor, height: int,
                     width: int) -> torch.Tensor:
    """Bicubic upsampling of a ``[h, w]`` map to ``[height, width]``."""
    heatmap = torch.as_tensor(heatmap, dtype=torch.float32)
    return F.interpolate(heatmap[None, None], size=(int(height), int(width)),
                         mode='bicubic', align_corners=False)[0, 0]


def score_proposals(full_map: torch.Tensor, proposals: Sequence[Box],
                    alpha: float = 0.5) -> List[float]:
    """``sum / area ** alpha`` of each proposal on the image-size map;
    ``nan`` for a proposal without area (never selected)."""
    scores = []
    for det in proposals:
        x, y, w, h = (float(v) for v in det[:4])
        area = w * h
        if w <= 0 or h <= 0:
            scores.append(float('nan'))
            continue
        y0, x0 = max(int(y), 0), max(int(x), 0)
        region = full_map[y0:max(int(y + h), 0), x0:max(int(x + w), 0)]
        scores.append(float(region.sum()) / area ** alpha)
    return scores


def select_proposal(scores: Sequence[float]) -> Optional[int]:
    """Index of the best positive score (first on ties), None if no score
    is above 0."""
    best, best_score = None, 0.0
    for i, s in enumerate(scores):
        if s > best_score:  # False for nan
            best, best_score = i, s
    return best


def ground_expression(heatmap: torch.Tensor, proposals: Sequence[Box],
                      image_size: Sequence[int], alpha: float = 0.5
                      ) -> Optional[List[float]]:
    """The proposal box a heat map selects (None when none scores > 0)."""
    if not len(proposals):
        return None
    full = upsample_heatmap(heatmap, image_size[0], image_size[1])
    best = select_proposal(score_proposals(full, proposals, alpha))
    return None if best is None else [float(v) for v in proposals[best][:4]]


@METRICS.register_module()
class GroundingAccuracy(BaseMetric):
    """Accuracy of Grad-CAM grounding per REFER split (see the module
    docstring for the scoring and its edge cases).

    Each data sample needs ``pred_heatmap`` ``[h, w]`` (from
    ``ALBEFGrounding.predict``) and, from :class:`RefCOCODataset` in test
    mode, ``gt_bbox`` (xywh), ``proposals`` (list of xywh...),
    ``ref_split`` and ``gt_image_size`` ``(H, W)``.

    Results (``grounding/`` prefix): ``<split>_d`` for every split seen,
    ``num_<split>``, ``num_no_positive``, ``num_no_proposals``; with
    ``baselines=True`` also ``<split>_d_largest`` (always the largest
    proposal) and ``<split>_d_random`` (the expected accuracy of a
    uniformly random proposal: the mean fraction of hitting proposals).

    Config keys:
        alpha (float): Area exponent of the proposal score (0.5).
        iou_thr (float): IoU for a hit (0.5).
        baselines (bool): Also report the two baselines.
        save_heatmaps (bool): Write every expression's heat map (see the
            module docstring for the file). Defaults to True.
        heatmap_dir (str): Folder of the heat-map files, relative to the
            work dir (``'grounding_heatmaps'``).
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str): Result key prefix (``'grounding'``).
    """

    default_prefix = 'grounding'

    def __init__(self, alpha: float = 0.5, iou_thr: float = 0.5,
                 baselines: bool = False, save_heatmaps: bool = True,
                 heatmap_dir: str = 'grounding_heatmaps',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.alpha = alpha
        self.iou_thr = iou_thr
        self.baselines = baselines
        self.save_heatmaps = save_heatmaps
        self.heatmap_dir = heatmap_dir
        self.work_dir: Optional[str] = None

    def set_work_dir(self, work_dir: str) -> None:
        """Where the heat-map files go (called by the runner when it builds
        the evaluator); without it no heat-map file is written."""
        self.work_dir = work_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for i, s in enumerate(data_samples):
            missing = [k for k in ('pred_heatmap', 'gt_bbox', 'proposals',
                                   'ref_split', 'gt_image_size')
                       if k not in s]
            if missing:
                raise KeyError(
                    f'GroundingAccuracy: data sample {i} lacks {missing}; '
                    'evaluate an ALBEFGrounding model on a RefCOCODataset in '
                    "test mode packed with algorithm_keys=('text', 'ref_id', "
                    "'gt_bbox', 'proposals', 'ref_split', 'gt_image_size')")
            heatmap = torch.as_tensor(s['pred_heatmap']).float().cpu()
            proposals = [list(map(float, p[:4])) for p in s['proposals']]
            pred = ground_expression(heatmap, proposals, s['gt_image_size'],
                                     self.alpha)
            gt = list(map(float, s['gt_bbox']))
            result = dict(
                split=s['ref_split'], ref_id=s.get('ref_id'),
                pred_bbox=pred, no_proposals=not proposals,
                hit=pred is not None and compute_iou(gt, pred)
                >= self.iou_thr)
            if self.baselines:
                ious = [compute_iou(gt, p) for p in proposals]
                areas = [p[2] * p[3] for p in proposals]
                hits = [iou >= self.iou_thr for iou in ious]
                result['hit_largest'] = bool(
                    hits and hits[max(range(len(areas)),
                                      key=areas.__getitem__)])
                result['hit_random'] = (sum(hits) / len(hits)
                                        if hits else 0.0)
            if self.save_heatmaps and self.work_dir is not None:
                if s.get('ref_id') is None:
                    raise KeyError(
                        f'GroundingAccuracy: data sample {i} has no ref_id '
                        'for the heat-map file; pack ref_id '
                        "(algorithm_keys=('text', 'ref_id', ...)) or set "
                        'save_heatmaps=False')
                result['ref_id'] = int(s['ref_id'])
                result['heatmap'] = heatmap.clone()
            self.results.append(result)

    def heatmap_path(self, splits: Sequence[str]) -> str:
        """The file of this evaluation's heat maps (module docstring)."""
        hub = MessageHub.get_current_instance()
        stage = hub.get_info('loop_stage') or 'eval'
        name = f"{stage}_{'_'.join(splits)}"
        epoch = hub.get_info('epoch')
        if stage == 'val' and epoch is not None:
            # validation after training epoch index `epoch` (0-based), the
            # epoch its checkpoint epoch_<N>.pth is named after
            return osp.join(self.work_dir, self.heatmap_dir,
                            f'{name}_epoch_{epoch + 1}.pth')
        path, n = osp.join(self.work_dir, self.heatmap_dir, name), 0
        while osp.exists(path + (f'_{n}' if n else '') + '.pth'):
            n += 1
        return path + (f'_{n}' if n else '') + '.pth'

    def write_heatmaps(self, results: List[dict]) -> Optional[str]:
        """Save ``[{'ref_id', 'pred'}]`` of ``results`` atomically; returns
        the path (None when no work dir is known)."""
        if self.work_dir is None:
            print_log('grounding: no work dir known (metric used outside a '
                      'runner), the heat-map file is not written',
                      logger='current')
            return None
        path = self.heatmap_path(sorted({r['split'] for r in results}))
        maps = [dict(ref_id=r['ref_id'], pred=r['heatmap']) for r in results]
        with atomic_path(path) as tmp:
            torch.save(maps, tmp)
        print_log(f'grounding: {len(maps)} heat maps written to {path}',
                  logger='current')
        return path

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if self.save_heatmaps and results:
            self.write_heatmaps(results)
        by_split = defaultdict(list)
        for r in results:
            by_split[r['split']].append(r)
        metrics = {}
        for split in sorted(by_split):
            rs = by_split[split]
            metrics[f'{split}_d'] = sum(r['hit'] for r in rs) / len(rs)
            if self.baselines:
                metrics[f'{split}_d_largest'] = \
                    sum(r['hit_largest'] for r in rs) / len(rs)
                metrics[f'{split}_d_random'] = \
                    sum(r['hit_random'] for r in rs) / len(rs)
            metrics[f'num_{split}'] = len(rs)
        metrics['num_no_proposals'] = sum(r['no_proposals'] for r in results)
        metrics['num_no_positive'] = sum(
            r['pred_bbox'] is None and not r['no_proposals'] for r in results)
        if metrics['num_no_positive']:
            print_log(f"grounding: {metrics['num_no_positive']} expressions "
                      'have no proposal with a positive score and count as '
                      'misses', logger='current', level=30)
        if not math.isfinite(sum(v for v in metrics.values())):
            raise FloatingPointError(f'grounding metrics not finite: '
                                     f'{metrics}')
        return metrics
