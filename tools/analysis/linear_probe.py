"""Linear probe of a checkpoint's frozen image features.

Usage:
    python tools/analysis/linear_probe.py CONFIG CHECKPOINT
        [--work-dir DIR] [--feature cls|proj] [--cfg-options k=v ...]

The config gives ``model`` (e.g. ``ALBEFZeroShotClassifier``; only its
image encoder and ITC projection are used), ``train_dataloader``,
``test_dataloader``, optionally ``val_dataloader`` (selects the weight
decay, then the probe is refit on train + val), and ``linear_probe``::

    linear_probe = dict(feature='cls',            # or 'proj'
                        weight_decays=[1e-4, 1e-3, 1e-2, 1e-1],
                        max_iter=500, topk=(1, 5))

Features are computed once per (checkpoint, feature kind, split) and
cached in ``WORK_DIR/feature_cache/``; a rerun only fits the probe. The
accuracies are printed and written to ``WORK_DIR/linear_probe.json``.
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import albef_mm  # noqa: F401
from albef_mm.checkpoint import load_checkpoint_to_model
from albef_mm.evaluation.metrics import classification_accuracy
from albef_mm.models.algorithms.linear_probe import (cache_key,
                                                      cached_features,
                                                      train_probe)
from albef_mm.registry import MODELS

DEFAULTS = dict(feature='cls', weight_decays=[1e-3], max_iter=500,
                topk=(1, 5))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='ALBEF linear probe')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir', help='default: work_dirs/<config name>')
    parser.add_argument('--feature', choices=['cls', 'proj'],
                        help='overrides linear_probe.feature')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def _split_features(model, cfg, name, kind, ckpt, cache_dir):
    loader_cfg = cfg.get(name)
    if not loader_cfg:
        return None
    loader = Runner.build_dataloader(loader_cfg)
    ds = loader.dataset
    key = cache_key(checkpoint=osp.abspath(ckpt),
                    ckpt_mtime=os.stat(ckpt).st_mtime,
                    ckpt_size=os.stat(ckpt).st_size, kind=kind,
                    dataset=loader_cfg['dataset'], n=len(ds))
    path = osp.join(cache_dir, f'{name.split("_")[0]}_{kind}_{key}.pt')
    feats, labels, hit = cached_features(model, loader, kind, path, key)
    print(f'{name}: {tuple(feats.shape)} features '
          f'{"from cache" if hit else "computed"} ({path})')
    return feats, labels, ds.metainfo.get('classes')


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    probe_cfg = dict(DEFAULTS, **cfg.get('linear_probe', {}))
    if args.feature:
        probe_cfg['feature'] = args.feature
    init_default_scope(cfg.get('default_scope', 'albef_mm'))
    torch.manual_seed(0)

    model = MODELS.build(cfg.model)
    load_checkpoint_to_model(model, args.checkpoint,
                             strict=cfg.get('load_strict', True))
    model.eval()
    if torch.cuda.is_available():
        model.cuda()
    cache_dir = osp.join(work_dir, 'feature_cache')
    kind = probe_cfg['feature']
    train = _split_features(model, cfg, 'train_dataloader', kind,
                            args.checkpoint, cache_dir)
    val = _split_features(model, cfg, 'val_dataloader', kind,
                          args.checkpoint, cache_dir)
    test = _split_features(model, cfg, 'test_dataloader', kind,
                           args.checkpoint, cache_dir)
    if train is None or test is None:
        sys.exit('the config needs train_dataloader and test_dataloader')
    classes = test[2] or train[2]
    num_classes = len(classes) if classes else int(train[1].max()) + 1
    probe, info = train_probe(train[:2], num_classes,
                              probe_cfg['weight_decays'],
                              val[:2] if val else None,
                              probe_cfg['max_iter'])
    with torch.no_grad():
        scores = probe(test[0])
    acc = classification_accuracy(scores, test[1], probe_cfg['topk'],
                                  num_classes)
    result = dict(config=args.config, checkpoint=args.checkpoint,
                  feature=kind, num_classes=num_classes,
                  chance=100.0 / num_classes,
                  train_samples=int(train[1].numel()),
                  test_samples=int(test[1].numel()), **info,
                  **{k: v for k, v in acc.items() if k != 'per_class_acc'},
                  per_class_acc=dict(zip(
                      classes or range(num_classes), acc['per_class_acc'])))
    os.makedirs(work_dir, exist_ok=True)
    out = osp.join(work_dir, 'linear_probe.json')
    with open(out, 'w') as f:
        json.dump(result, f, indent=1, default=str)
    topk = ', '.join(f'top{k} {acc[f"top{k}"]:.2f}'
                     for k in probe_cfg['topk'])
    print(f'linear probe ({kind} features, weight decay '
          f'{info["weight_decay"]}): {topk}, mean class acc '
          f'{acc["mean_class_acc"]:.2f} (chance {100 / num_classes:.2f}) '
          f'on {result["test_samples"]} test images; written to {out}')
    torch.save(probe.state_dict(), osp.join(work_dir, 'linear_probe_head.pth'))
    return result


if __name__ == '__main__':
    main()
