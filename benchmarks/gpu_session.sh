#!/usr/bin/env bash
# Train a recipe (default: the next tiny model, benchmarks/configs/tiny-next) on a lent GPU in
# calls of under 10 minutes, each continuing where the one before stopped. Before each call,
# on this machine (it prints the call's size against the 64 MiB a call may carry):
#   bash benchmarks/gpu_carry.sh [FOLDER]   # FOLDER: the files the last call brought back
# then one call of the device's `run`:
#   command: bash benchmarks/gpu_session.sh   carry: ["runs/gpu-carry", "runs/bank"]
#   timeout_s: 600
# The call installs the carried wheels (this package without its shipped models, which the
# tree carries, and what the GPU image lacks), restores the runs the last call packed, points
# SWANSPHERE_MINILM at the compact MiniLM and SWANSPHERE_BANK at the clip bank, and runs
# scripts/train-tiny.sh: each step is skipped when done, resumed from its checkpoint when
# begun. SESSION_SECONDS (default 450) bounds the training: a step still running then stops
# and resumes next time from its newest checkpoint (the recipe's run.checkpoint_every). At the end
# the runs are packed into $OUT (benchmarks/gpu_resume.py: resume.tar.xz.part-*), with log.txt
# and metrics.txt; the newest model is in them (runs/<recipe>/<step>/pipeline or the newest
# checkpoint, which loads as a pipeline). Bring those files back and give the folder to
# gpu_carry.sh for the next call.
#
# Variables: PHASES (default "codec svac stage1 stage2 stage2-history odpo"; also "check":
# xformers against SDPA, benchmarks/gpu_attention_check.py), CONFIGS, DEVICE (cuda), OUT
# (runs/gpu), CARRY (runs/gpu-carry), SITE (/tmp/site), PYTHON (python3), RESUME_DTYPE
# (bfloat16), the per-step limits of scripts/train-tiny.sh (STAGE2_SECONDS, ...) and
# TRAIN_OPTIONS. A dry run on the CPU (a couple of steps per phase):
#   DEVICE=cpu OUT=/tmp/gpu-out CARRY=/tmp/carry SITE=/tmp/site PYTHON=.venv/bin/python \
#   TRAIN_OPTIONS="--steps 2 --set data.train_scenes=8" bash benchmarks/gpu_session.sh
# ./benchmarks/gpu_session.sh --help prints this header.
set -uo pipefail
case "${1:-}" in
    -h|--help) sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
esac
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
OUT="${OUT:-runs/gpu}"
CARRY="${CARRY:-runs/gpu-carry}"
SITE="${SITE:-/tmp/site}"
PYTHON="${PYTHON:-python3}"
CONFIGS="${CONFIGS:-benchmarks/configs/tiny-next}"
RUNS="runs/$(basename "$CONFIGS")"
PHASES="${PHASES:-codec svac stage1 stage2 stage2-history odpo}"
export SESSION_SECONDS="${SESSION_SECONDS:-450}"
mkdir -p "$OUT"
LOG="$OUT/log.txt"
log() { echo "$*" | tee -a "$LOG"; }

log "carried: $(du -sh --apparent-size --exclude=.git . | cut -f1) in all (64 MiB at most); $(du -sh --apparent-size "$CARRY" \
    runs/bank 2>/dev/null | tr '\t\n' ' ')"
source benchmarks/gpu_env.sh
export SWANSPHERE_BANK="${SWANSPHERE_BANK:-$PWD/runs/bank}"
if [ -f "$CARRY/minilm.safetensors.xz" ]; then
    "$PYTHON" benchmarks/gpu_resume.py unxz "$CARRY/minilm.safetensors.xz" || exit 1
fi
[ -f "$CARRY/minilm.safetensors" ] && export SWANSPHERE_MINILM="$PWD/$CARRY/minilm.safetensors"
log "clip bank: $(ls "$SWANSPHERE_BANK/index.json" 2>/dev/null || echo none);" \
    "MiniLM: ${SWANSPHERE_MINILM:-the package}"
"$PYTHON" benchmarks/gpu_resume.py unpack "$CARRY/resume" | tee -a "$LOG"

if [[ " $PHASES " == *" check "* ]]; then
    timeout "${CHECK_SECONDS:-80}" "$PYTHON" benchmarks/gpu_attention_check.py \
        --json "$OUT/gpu_attention_check.json" 2>&1 | tail -n 40 | tee "$OUT/gpu_check.txt"
fi
steps=$(echo " $PHASES " | sed 's/ check / /g' | xargs)
status=0
if [ -n "$steps" ]; then
    PHASES="$steps" CONFIGS="$CONFIGS" EXPORT="$RUNS/model" DEVICE="${DEVICE:-cuda}" \
        WORKERS="${WORKERS:-$(( $(nproc) - 2 ))}" SWANSPHERE="$SITE/bin/swansphere" \
        PYTHON="$PYTHON" bash scripts/train-tiny.sh 2>&1 | grep --line-buffered -v "^WARNING" | tee -a "$LOG"
    status=${PIPESTATUS[0]}
fi
case $status in
    0) log "the steps asked for are done" ;;
    3) log "time is up: the next call resumes" ;;
    *) log "a step failed (exit $status)" ;;
esac
for run in "$RUNS"/*/; do
    [ -f "$run/metrics.jsonl" ] && sed "s|^|$(basename "$run") |" "$run/metrics.jsonl"
done > "$OUT/metrics.txt"
"$PYTHON" benchmarks/gpu_resume.py pack "$RUNS" "$OUT" --dtype "${RESUME_DTYPE:-bfloat16}" \
    | tee -a "$LOG"
log "total $SECONDS s"
exit $status
