"""Measured dense matrix-multiply peak of one device, the denominator of
model-FLOPs utilisation (MFU).

Usage:
    python tools/analysis/gemm_peak.py [--device cuda|cpu]
        [--dtype bfloat16|float16|float32|tf32] [--size N] [--iters N]
        [--seconds S] [--json OUT.json]

Times ``C = A @ B`` on square ``N x N`` matrices (2·N³ FLOPs each) after a
warm-up, repeating until ``--seconds`` have passed or ``--iters`` products
were done, and prints ``TFLOP/s``. ``tf32`` is float32 storage with
TensorFloat-32 tensor-core products (GPU). Works on CPU for float32 (and
bf16 where the CPU has the instructions), so the pipeline of
``gpu_check.sh`` can be exercised without a GPU.
"""
import argparse
import json
import time

import torch

DTYPES = dict(bfloat16=torch.bfloat16, float16=torch.float16,
              float32=torch.float32, tf32=torch.float32)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--dtype', default='bfloat16', choices=list(DTYPES))
    parser.add_argument('--size', type=int, default=None,
                        help='matrix side (default 8192 on GPU, 1024 on CPU)')
    parser.add_argument('--iters', type=int, default=200,
                        help='at most this many timed products')
    parser.add_argument('--seconds', type=float, default=5.0,
                        help='stop timing after about this long')
    parser.add_argument('--json', default=None, help='write results here')
    return parser.parse_args(argv)


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def measure(device: str = 'cpu', dtype: str = 'float32',
            size: int = None, iters: int = 200,
            seconds: float = 5.0) -> dict:
    """Time square matrix products and return ``dict(device, dtype, size,
    iters, seconds, tflops_per_s)``."""
    if dtype not in DTYPES:
        raise ValueError(f'dtype must be one of {sorted(DTYPES)}, got '
                         f'{dtype!r}')
    if size is None:
        size = 8192 if device.startswith('cuda') else 1024
    if size < 1 or iters < 1:
        raise ValueError(f'size and iters must be positive, got size={size}'
                         f', iters={iters}')
    previous = None
    if device.startswith('cuda'):
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = dtype == 'tf32'
    try:
        g = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=g).to(device, DTYPES[dtype])
        b = torch.randn(size, size, generator=g).to(device, DTYPES[dtype])
        out = torch.empty_like(a)
        for _ in range(3):  # warm-up: kernel selection, clocks
            torch.matmul(a, b, out=out)
        sync(device)
        done, start = 0, time.perf_counter()
        while done < iters:
            torch.matmul(a, b, out=out)
            done += 1
            if done % 10 == 0 or not device.startswith('cuda'):
                sync(device)
                if time.perf_counter() - start > seconds:
                    break
        sync(device)
        elapsed = time.perf_counter() - start
    finally:
        if previous is not None:
            torch.backends.cuda.matmul.allow_tf32 = previous
    return dict(device=device, dtype=dtype, size=size, iters=done,
                seconds=elapsed,
                tflops_per_s=2.0 * size**3 * done / elapsed / 1e12)


def main(argv=None):
    args = parse_args(argv)
    result = measure(args.device, args.dtype, args.size, args.iters,
                     args.seconds)
    name = torch.cuda.get_device_name() if args.device.startswith('cuda') \
        else 'cpu'
    result.update(device_name=name, threads=torch.get_num_threads())
    print(f"GEMM peak {result['dtype']} on {name} ({result['size']}^2, "
          f"{result['iters']} products): {result['tflops_per_s']:.2f} "
          'TFLOP/s')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
