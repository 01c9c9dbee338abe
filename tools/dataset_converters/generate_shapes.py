"""Generate the Shapes benchmark (images + ALBEF-format annotations).

Example:
    python tools/dataset_converters/generate_shapes.py data/shapes
    python tools/dataset_converters/generate_shapes.py data/shapes96 \
        --image-size 96 --num-train 5000
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from albef_mm.datasets import generate_shapes  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the Shapes benchmark in ALBEF json formats '
        '(pre-training, retrieval, grounding, VQA, NLVR2, SNLI-VE).')
    parser.add_argument('out_dir', nargs='?', default='data/shapes',
                        help='output folder (default: data/shapes)')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument('--num-test', type=int, default=200)
    parser.add_argument(
        '--num-pretrain-extra', type=int, default=0,
        help='extra images used only by pre-training (appended to '
        'pretrain.json, 3 captions each), numbered after the test split '
        '(default: 0)')
    parser.add_argument('--image-size', type=int, default=64,
                        help='image side in pixels, e.g. 64 or 96')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--retrieval-train-captions', type=int, default=2,
                        help='records per image in retrieval_train.json')
    parser.add_argument('--vqa-questions', type=int, default=2,
                        help='questions per image in the VQA files')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.time()

    def progress(msg: str) -> None:
        print(f'[{time.time() - start:6.1f}s] {msg}', flush=True)

    counts = generate_shapes(
        args.out_dir, num_train=args.num_train, num_val=args.num_val,
        num_test=args.num_test, num_pretrain_extra=args.num_pretrain_extra,
        image_size=args.image_size, seed=args.seed,
        retrieval_train_captions=args.retrieval_train_captions,
        vqa_questions=args.vqa_questions, progress=progress)
    for name, n in counts.items():
        print(f'  {name:24s} {n}')
    print(f'Done in {time.time() - start:.1f}s: {args.out_dir}')


if __name__ == '__main__':
    main()
