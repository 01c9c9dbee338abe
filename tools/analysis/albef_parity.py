"""Check albef_mm against a fixture recorded with the original ALBEF code.

Usage:
    python tools/analysis/albef_parity.py FIXTURE.pth [FIXTURE.pth ...]
        [--parts train_step,eval] [--task pretrain] [--replay inject|seed]

Builds the project model from the fixture's own configs, converts and loads
its original-format weights, replays the recorded random draws, recomputes
every recorded output and prints one line per output with the max absolute
and relative error. Exit status: 0 if every output matches
(|a - b| <= 1e-5 + 1e-5 |b| elementwise, float32), 1 if any differs, 2 if a
task or part is not supported yet.
"""
import argparse
import sys

import torch

from parity import ATOL, RTOL, UnsupportedFixture, run_fixture


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('fixtures', nargs='+', help='fixture .pth files')
    parser.add_argument('--parts', default=None,
                        help='comma-separated top-level parts of `outputs` '
                        'to check (default: all)')
    parser.add_argument('--task', default=None,
                        help='task name; detected from the weights if unset')
    parser.add_argument('--replay', choices=('inject', 'seed'),
                        default='inject',
                        help='inject the recorded random draws (default) or '
                        're-seed the global generator as the fixture did')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (fixtures were recorded with 1)')
    parser.add_argument('--verbose', action='store_true',
                        help='print every output, not only a summary per '
                        'part plus the failures')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = args.parts.split(',') if args.parts else None
    status = 0
    for path in args.fixtures:
        fixture = torch.load(path, weights_only=True)
        print(f'== {path}')
        try:
            for part, checks in run_fixture(fixture, parts, args.task,
                                             args.replay):
                bad = [c for c in checks if not c.ok]
                for c in checks:
                    if args.verbose or not c.ok:
                        flag = 'ok  ' if c.ok else 'FAIL'
                        print(f'  {flag} {part}/{c.name:<62} '
                              f'{str(c.shape):<16} max_abs {c.max_abs:.3e} '
                              f'max_rel {c.max_rel:.3e} {c.note}')
                worst = max(checks, key=lambda c: c.max_abs)
                print(f'  {part}: {len(checks) - len(bad)}/{len(checks)} '
                      f'outputs match (atol {ATOL}, rtol {RTOL}); largest '
                      f'abs error {worst.max_abs:.3e} ({worst.name})')
                if bad:
                    status = max(status, 1)
        except UnsupportedFixture as err:
            print(f'  UNSUPPORTED: {err}')
            status = 2 if status == 0 else status
    print('PARITY OK' if status == 0 else
          'PARITY FAILED' if status == 1 else 'PARITY UNSUPPORTED')
    return status


if __name__ == '__main__':
    sys.exit(main())
