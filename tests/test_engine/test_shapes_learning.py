"""Regression: the tiny model learns zero-shot retrieval on Shapes."""

from albef_mm.datasets import generate_shapes
from albef_mm.registry import RUNNERS
from test_training import tiny_cfg


def test_short_shapes_pretraining_beats_chance(tmp_path):
    root = str(tmp_path / 'shapes')
    generate_shapes(root, num_train=1000, num_val=50, num_test=50)
    cfg = tiny_cfg(root, tmp_path / 'work', epochs=20, batch=16, queue=256)
    cfg.merge_from_dict({
        'param_scheduler.0.max_epochs': 20, 'param_scheduler.0.end': 20,
        'train_dataloader.num_workers': 2,
        'default_hooks.logger.interval': 20,
        'default_hooks.checkpoint.interval': 20})
    runner = RUNNERS.build(cfg)
    runner.train()
    metrics = runner.test()
    print({k: round(v, 1) for k, v in metrics.items()})
    # Chance on 50 images x 250 captions: R@1 2 % (IR) / ~10 % (TR, best of
    # 5 captions), IR R@10 20 %, r_mean ~9. Measured here (2 threads): TR
    # R@1 66.0, IR R@1 71.2, IR R@10 100, r_mean 88.9; the thresholds sit at
    # ~75 % of that (another thread count changes the float rounding and
    # with it the trajectory).
    assert metrics['retrieval/txt_r1'] > 45
    assert metrics['retrieval/img_r1'] > 50
    assert metrics['retrieval/img_r10'] > 75
    assert metrics['retrieval/r_mean'] > 65
