#!/usr/bin/env python
"""Scripted mutation pass: inject one realistic bug at a time into a
throw-away clone, run the tests chosen for it, and record whether the
suite notices (killed) or not (survived).

A spec is a json list of mutations::

    [{"id": "itc-no-avg",                       # unique name
      "file": "albef_mm/models/heads/itc_head.py",
      "old": "loss_itc=(loss_i2t + loss_t2i) / 2",   # must occur once
      "new": "loss_itc=(loss_i2t + loss_t2i)",
      "tests": ["tests/test_models/test_heads.py"]}, ...]

Usage (never on the working tree you commit from: the files are edited
in place and restored after each mutation)::

    git clone -q . ../mutwt && ln -s $PWD/.venv ../mutwt/.venv
    python tools/analysis/mutation_pass.py ../mutwt SPEC.json \
        --out results.json [--only ID ...] [--deselect NODEID ...]

A mutation is *killed* when the tests fail (or time out), *survived*
when they pass, *bad-pattern* when ``old`` does not occur exactly once.
The results json holds every outcome, the run time and, for survivors,
the unified diff of the mutation; a markdown table is printed.
"""
import argparse
import difflib
import json
import os
import subprocess
import sys
import time


def run_one(root, m, deselect, timeout, python):
    path = os.path.join(root, m['file'])
    with open(path, encoding='utf-8') as f:
        src = f.read()
    count = src.count(m['old'])
    if count != 1:
        return dict(status='bad-pattern', detail=f'old occurs {count} times')
    mutated = src.replace(m['old'], m['new'])
    diff = ''.join(difflib.unified_diff(
        src.splitlines(True), mutated.splitlines(True),
        'a/' + m['file'], 'b/' + m['file'], n=1))
    env = dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PATH=os.environ.get('PATH', '/usr/bin:/bin'),
               HOME=os.environ.get('HOME', '/tmp'), HF_HUB_OFFLINE='1',
               PYTHONDONTWRITEBYTECODE='1', CI='true', PYTHONPATH=root)
    cmd = [python, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider']
    for node in deselect:
        cmd += ['--deselect', node]
    cmd += m['tests']
    start = time.time()
    with open(path, 'w', encoding='utf-8') as f:
        f.write(mutated)
    try:
        r = subprocess.run(cmd, cwd=root, capture_output=True, text=True,
                           timeout=timeout, env=env)
        if r.returncode == 0:
            status = 'survived'
        elif r.returncode == 5:
            status = 'no-tests'
        else:
            status = 'killed'
        tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
    except subprocess.TimeoutExpired:
        status, tail = 'killed(timeout)', []
    finally:
        with open(path, 'w', encoding='utf-8') as f:
            f.write(src)
    return dict(status=status, seconds=round(time.time() - start, 1),
                diff=diff, tail=tail)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('root', help='clone to mutate (edited and restored)')
    p.add_argument('spec', help='json list of mutations')
    p.add_argument('--out', help='write the results json here')
    p.add_argument('--only', nargs='*', help='run only these ids')
    p.add_argument('--deselect', nargs='*', default=[],
                   help='pytest node ids left out of every run (slow ones)')
    p.add_argument('--timeout', type=int, default=900)
    p.add_argument('--python', default=None,
                   help='interpreter (default: ROOT/.venv/bin/python)')
    args = p.parse_args(argv)
    with open(args.spec, encoding='utf-8') as f:
        spec = json.load(f)
    ids = [m['id'] for m in spec]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit(f'duplicate mutation ids in {args.spec}: {sorted(dup)}')
    python = args.python or os.path.join(args.root, '.venv', 'bin', 'python')
    results = []
    for m in spec:
        if args.only and m['id'] not in args.only:
            continue
        res = dict(id=m['id'], file=m['file'], **run_one(
            args.root, m, args.deselect, args.timeout, python))
        results.append(res)
        print(f"{m['id']:<32} {res['status']:<16} {res.get('seconds', '')}",
              flush=True)
        if args.out:
            with open(args.out, 'w', encoding='utf-8') as f:
                json.dump(results, f, indent=1)
    valid = [r for r in results if r['status'] != 'bad-pattern']
    killed = sum(r['status'].startswith('killed') for r in valid)
    print(f'\nkilled {killed}/{len(valid)} '
          f'({100.0 * killed / max(len(valid), 1):.1f} %)')
    for r in results:
        if r['status'] in ('survived', 'no-tests', 'bad-pattern'):
            print(f"\n## {r['id']} ({r['status']})\n{r.get('diff', '')}"
                  f"{r.get('detail', '')}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
