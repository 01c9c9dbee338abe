"""Generate the Shapes benchmark (images + ALBEF-format annotations).

Example:
    python tools/dataset_converters/generate_shapes.py data/shapes
    python tools/dataset_converters/generate_shapes.py data/shapes96 \
        --image-size 96 --num-train 5000
"""
import argparse
import os
import os.path as osp
import re
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from albef_mm.datasets import generate_shapes  # noqa: E402
from albef_mm.engine.progress import format_seconds  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the Shapes benchmark in ALBEF json formats '
        '(pre-training, retrieval, grounding, VQA, NLVR2, SNLI-VE).')
    parser.add_argument('out_dir', nargs='?', default='data/shapes',
                        help='output folder (default: data/shapes)')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument('--num-test', type=int, default=200)
    parser.add_argument(
        '--num-pretrain-extra', type=int, default=14000,
        help='extra images used only by pre-training (appended to '
        'pretrain.json, 3 captions each), numbered after the test split '
        '(default: 14000, what pretrain_shapes_tiny.py trains on)')
    parser.add_argument('--image-size', type=int, default=64,
                        help='image side in pixels, e.g. 64 or 96')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--retrieval-train-captions', type=int, default=2,
                        help='records per image in retrieval_train.json')
    parser.add_argument('--vqa-questions', type=int, default=2,
                        help='questions per image in the VQA files')
    parser.add_argument('--workers', type=int,
                        default=min(4, os.cpu_count() or 1),
                        help='processes rendering the images (the files '
                        'are the same for any number; default: the CPU '
                        'count, at most 4)')
    return parser.parse_args(argv)


def eta_suffix(msg: str, elapsed: float) -> str:
    """``', ETA H:MM:SS'`` for the generator's ``images: DONE/TOTAL`` lines
    (rendering the images is the slow part), else ``''``."""
    match = re.fullmatch(r'images: (\d+)/(\d+)', msg)
    if not match:
        return ''
    done, total = int(match.group(1)), int(match.group(2))
    if done >= total:
        return ' (100%)'
    return (f' ({100 * done // total}%), ETA '
            f'{format_seconds(elapsed / done * (total - done))}')


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.time()

    def progress(msg: str) -> None:
        elapsed = time.time() - start
        print(f'[{elapsed:6.1f}s] {msg}{eta_suffix(msg, elapsed)}',
              flush=True)

    counts = generate_shapes(
        args.out_dir, num_train=args.num_train, num_val=args.num_val,
        num_test=args.num_test, num_pretrain_extra=args.num_pretrain_extra,
        image_size=args.image_size, seed=args.seed,
        retrieval_train_captions=args.retrieval_train_captions,
        vqa_questions=args.vqa_questions, progress=progress,
        workers=args.workers)
    for name, n in counts.items():
        print(f'  {name:24s} {n}')
    print(f'Done in {time.time() - start:.1f}s: {args.out_dir}')


if __name__ == '__main__':
    main()
