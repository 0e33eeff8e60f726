#!/usr/bin/env bash
# paper-l streaming on a lent GPU, eager against captured (CUDA graphs), in one call of under
# 10 minutes. Before the call, on this machine:
#   PURPOSE=speed bash benchmarks/gpu_carry.sh
# then one call of the device's `run`:
#   command: bash benchmarks/gpu_speed.sh   carry: ["runs/gpu-carry"]   timeout_s: 600
# Steps, each under `timeout`, skipped when the call's time (SESSION_SECONDS, default 540)
# would run out:
#   1. the CUDA tests of the fixed-shape step (tests/backbone/test_backbone_captured.py: CUDA
#      graph replay equals the eager stream, float32 and bfloat16) and of the attention paths
#   2. swansphere bench pipeline on benchmarks/configs/paper-l.toml, bfloat16, 10 s clips,
#      median of 3, with --streams 8: eager, then --compile cudagraphs (dynamo's CUDA-graph
#      backend: no code generation, quick to prepare), then --compile (reduce-overhead:
#      inductor kernels replayed as CUDA graphs), the slowest to compile
# Results in $OUT (default runs/gpu-speed): log.txt, tests.txt, bench-<variant>.json/.txt.
# Variables: OUT, CARRY (runs/gpu-carry), SITE (/tmp/site), PYTHON (python3), DEVICE (cuda),
# DTYPE (bfloat16), CONFIG, DURATION (10), REPEATS (3), STREAMS (8), VARIANTS ("eager
# cudagraphs reduce-overhead"), SESSION_SECONDS, SKIP_INSTALL (1: use the Python as it is).
# A CPU dry run (tiny recipe, seconds):
#   SKIP_INSTALL=1 PYTHON=.venv/bin/python DEVICE=cpu DTYPE=float32 OUT=/tmp/gpu-speed \
#   CONFIG=benchmarks/configs/tiny/stage2.toml DURATION=1 REPEATS=1 STREAMS=2 \
#   VARIANTS="eager cudagraphs" bash benchmarks/gpu_speed.sh
# ./benchmarks/gpu_speed.sh --help prints this header.
set -uo pipefail
case "${1:-}" in
    -h|--help) sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
esac
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
OUT="${OUT:-runs/gpu-speed}"
CARRY="${CARRY:-runs/gpu-carry}"
SITE="${SITE:-/tmp/site}"
PYTHON="${PYTHON:-python3}"
DEVICE="${DEVICE:-cuda}"
DTYPE="${DTYPE:-bfloat16}"
CONFIG="${CONFIG:-benchmarks/configs/paper-l.toml}"
VARIANTS="${VARIANTS:-eager cudagraphs reduce-overhead}"
BUDGET="${SESSION_SECONDS:-540}"
mkdir -p "$OUT"
LOG="$OUT/log.txt"
log() { echo "$*" | tee -a "$LOG"; }
left() { echo $(( BUDGET - SECONDS )); }

if [ "${SKIP_INSTALL:-0}" = 1 ]; then
    SWANSPHERE=("$PYTHON" -m swansphere.cli)
else
    source benchmarks/gpu_env.sh
    SWANSPHERE=("$SITE/bin/swansphere")
fi

if [ "$DEVICE" = cuda ]; then
    timeout 120 "$PYTHON" -m pytest -q -p no:cacheprovider tests/backbone/test_backbone_captured.py \
        tests/backbone/test_backbone_attention.py -k "cuda or xformers" 2>&1 \
        | tail -n 30 | tee "$OUT/tests.txt"
    log "tests: $(tail -n 1 "$OUT/tests.txt")"
fi

# Seconds a variant may take at most: eager about 2 min for paper-l; compiling adds one
# compile per batch size (1 and $STREAMS).
declare -A LIMIT=([eager]=170 [cudagraphs]=260 [reduce-overhead]=420)
for variant in $VARIANTS; do
    limit=${LIMIT[$variant]:-300}
    if [ "$(left)" -lt 60 ]; then
        log "skipped $variant: $(left) s left"
        continue
    fi
    [ "$limit" -gt "$(left)" ] && limit=$(left)
    options=()
    [ "$variant" != eager ] && options=(--compile "$variant")
    log "bench $variant (at most $limit s)"
    timeout "$limit" "${SWANSPHERE[@]}" bench pipeline --config "$CONFIG" --device "$DEVICE" \
        --dtype "$DTYPE" --duration "${DURATION:-10}" --repeats "${REPEATS:-3}" \
        --streams "${STREAMS:-8}" --no-progress "${options[@]}" \
        --json "$OUT/bench-$variant.json" > "$OUT/bench-$variant.txt" 2>&1
    status=$?
    grep -v "^WARNING\|^W[0-9]" "$OUT/bench-$variant.txt" | tail -n 14 | tee -a "$LOG"
    [ $status -eq 0 ] || log "bench $variant: exit $status (124: out of time)"
done
log "total $SECONDS s"
