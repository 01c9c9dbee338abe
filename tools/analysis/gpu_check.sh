#!/usr/bin/env bash
# One-GPU check of the training step: full-size ALBEF pre-training in
# float32 and in bf16 (AmpOptimWrapper), against the GPU's measured GEMM
# peak.
#
# Usage:
#   tools/analysis/gpu_check.sh [--dry-run] [--out DIR] [--batch-size N]
#                               [--iters N] [--config CONFIG]
#
# GPU mode (default when torch sees a GPU): measures the bf16 and float32
# matmul peaks (tools/analysis/gemm_peak.py), then runs
# tools/analysis/benchmark.py CONFIG --reference in float32 and with --amp
# (bf16), and prints samples/s, peak memory and model-FLOPs utilisation
# (MFU = achieved model FLOP/s / measured bf16 GEMM peak). Defaults:
# configs/albef/pretrain_4m.py, batch 64 (ALBEF's per-GPU batch), 10 timed
# iterations. Takes a few minutes.
#
# Dry mode (--dry-run, or no GPU): the same pipeline on CPU with the tiny
# Shapes config, batch 4, 1 iteration and a small float32 GEMM; the bf16
# run is recorded as skipped (AmpOptimWrapper needs a GPU). CI runs this.
#
# Environment: PYTHON (interpreter; default .venv/bin/python or python).
# Output: DIR/gemm_*.json, DIR/bench_*.json (the benchmark's own JSON) and
# DIR/gpu_check.json (the summary). DIR defaults to work_dirs/gpu_check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The interpreter: $PYTHON, else the repository's .venv, else python.
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"
    else PYTHON=python; fi
fi
DRY=0
OUT="work_dirs/gpu_check"
BATCH=""
ITERS=""
CONFIG=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) DRY=1; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --batch-size) BATCH="$2"; shift 2 ;;
        --iters) ITERS="$2"; shift 2 ;;
        --config) CONFIG="$2"; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2
           exit 2 ;;
    esac
done

cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [[ $DRY -eq 0 ]] && ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check.sh: no GPU visible to torch; running the dry mode on CPU"
    DRY=1
fi
mkdir -p "$OUT"

if [[ $DRY -eq 1 ]]; then
    MODE=dry-run
    DEVICE=cpu
    CONFIG="${CONFIG:-configs/albef/pretrain_shapes_tiny.py}"
    BATCH="${BATCH:-4}"
    ITERS="${ITERS:-1}"
    WARMUP=1
    GEMM_ARGS=(--size 256 --iters 20 --seconds 1)
    PEAK_DTYPES=(float32)
else
    MODE=gpu
    DEVICE=cuda
    CONFIG="${CONFIG:-configs/albef/pretrain_4m.py}"
    BATCH="${BATCH:-64}"
    ITERS="${ITERS:-10}"
    WARMUP=3
    GEMM_ARGS=(--size 8192 --iters 200 --seconds 5)
    PEAK_DTYPES=(bfloat16 float32)
fi

echo "== gpu_check ($MODE): $CONFIG, batch $BATCH, $ITERS iterations, device $DEVICE"
for dtype in "${PEAK_DTYPES[@]}"; do
    "$PYTHON" tools/analysis/gemm_peak.py --device "$DEVICE" --dtype "$dtype" \
        "${GEMM_ARGS[@]}" --json "$OUT/gemm_$dtype.json"
done

BENCH=(tools/analysis/benchmark.py "$CONFIG" --reference --device "$DEVICE"
       --batch-size "$BATCH" --iters "$ITERS" --warmup "$WARMUP")
echo "== float32 training step"
"$PYTHON" "${BENCH[@]}" --json "$OUT/bench_fp32.json"
if [[ $DRY -eq 0 ]]; then
    echo "== bf16 training step (AmpOptimWrapper)"
    "$PYTHON" "${BENCH[@]}" --amp --json "$OUT/bench_bf16.json"
fi

"$PYTHON" - "$OUT" "$MODE" "$CONFIG" "$BATCH" "$ITERS" <<'EOF'
import json, os, sys

out, mode, config, batch, iters = sys.argv[1:6]


def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.isfile(path) else None


peaks = {d: load(f'gemm_{d}.json') for d in ('bfloat16', 'float32')}
peaks = {d: p for d, p in peaks.items() if p}
summary = dict(mode=mode, config=config, batch_size=int(batch),
               iters=int(iters),
               device_name=next(iter(peaks.values()))['device_name'],
               gemm_peak_tflops={d: p['tflops_per_s']
                                 for d, p in peaks.items()},
               runs={})
mfu_base = 'bfloat16' if 'bfloat16' in peaks else 'float32'
summary['mfu_against'] = mfu_base
for run, name, own in (('fp32', 'bench_fp32.json', 'float32'),
                       ('bf16', 'bench_bf16.json', 'bfloat16')):
    bench = load(name)
    if bench is None:
        summary['runs'][run] = dict(
            skipped='bf16 autocast (AmpOptimWrapper) needs a GPU')
        continue
    row = bench['optimized']
    entry = dict(samples_per_s=row['samples_per_s'],
                 s_per_iter=row['s_per_iter'], p90=row['p90'],
                 peak_memory_gib=row['peak_memory_gib'],
                 model_tflops_per_s=row['tflops_per_s'],
                 gflop_per_step=bench['flops'] / 1e9,
                 mfu=row['tflops_per_s'] /
                 peaks[mfu_base]['tflops_per_s'],
                 speedup_vs_reference=bench.get('speedup'),
                 max_rel_diff=bench.get('max_rel_diff'),
                 reference_samples_per_s=bench['reference']['samples_per_s'],
                 reference_peak_memory_gib=bench['reference']
                 ['peak_memory_gib'])
    if own in peaks and own != mfu_base:
        entry[f'mfu_vs_{own}_peak'] = (row['tflops_per_s'] /
                                       peaks[own]['tflops_per_s'])
    summary['runs'][run] = entry

print(f"\n{'run':<6}{'samples/s':>11}{'peak GiB':>10}{'TFLOP/s':>9}"
      f"{'MFU':>8}{'speedup':>9}   (MFU vs measured {mfu_base} GEMM peak "
      f"{summary['gemm_peak_tflops'][mfu_base]:.2f} TFLOP/s, "
      f"{summary['device_name']})")
for run, e in summary['runs'].items():
    if 'skipped' in e:
        print(f"{run:<6}skipped: {e['skipped']}")
        continue
    print(f"{run:<6}{e['samples_per_s']:>11.2f}{e['peak_memory_gib']:>10.2f}"
          f"{e['model_tflops_per_s']:>9.3f}{100 * e['mfu']:>7.1f}%"
          f"{e['speedup_vs_reference']:>9.3f}")
with open(os.path.join(out, 'gpu_check.json'), 'w') as f:
    json.dump(summary, f, indent=2)
print(f"wrote {os.path.join(out, 'gpu_check.json')}")
EOF
