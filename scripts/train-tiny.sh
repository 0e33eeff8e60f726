#!/usr/bin/env bash
# Train the shipped `tiny` model from nothing, with the repository's own recipe and data that
# is synthesised here (no downloads): codec -> SVAC video encoder -> stage 1 (pseudo-FOA) ->
# stage 2 (FOA + text + video) -> stage 2 continued with audio-history dropout (so that text
# sets the direction too) -> ODPO (online preference optimisation of the direction), then store
# it in the package (core/models/tiny, float16).
#
#   DEVICE=cuda bash scripts/train-tiny.sh      # a GPU: minutes
#   bash scripts/train-tiny.sh                  # the CPU: many hours at these step counts
#   CONFIGS=benchmarks/configs/tiny-next EXPORT=runs/tiny-next/model bash scripts/train-tiny.sh
#                                               # the next model: sound vocabulary, foa-parametric
#
# CONFIGS names the recipe folder (runs go to runs/<its name>); WORKERS sets the
# scene-rendering processes (default: all cores); SWANSPHERE the command; EXPORT the directory
# the finished model goes to. A step whose model is already exported is skipped, and the
# others resume from their newest checkpoint, so an interrupted run continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE="${DEVICE:-cpu}"
WORKERS="${WORKERS:-$(nproc)}"
SWANSPHERE="${SWANSPHERE:-.venv/bin/swansphere}"
PYTHON="${PYTHON:-.venv/bin/python}"
EXPORT="${EXPORT:-core/models/tiny}"
CONFIGS="${CONFIGS:-benchmarks/configs/tiny}"
RUNS="runs/$(basename "$CONFIGS")"

train() {  # train CONFIG RUN_DIR EXPORT_NAME [options]: skip when exported, else resume
    local config=$1 run=$2 exported=$3
    shift 3
    if [ -d "$run/$exported" ]; then
        echo "train-tiny: $run/$exported exists; skipping $config"
        return
    fi
    local resume=()
    if [ -n "$(ls -A "$run/checkpoints" 2>/dev/null)" ]; then
        resume=(--resume "$run")
    elif [ -d "$run" ]; then
        resume=(--overwrite)  # stopped before its first checkpoint: nothing to resume
    fi
    "$SWANSPHERE" train "$config" "${resume[@]}" --no-progress "$@"
}

export_fp16() {  # export_fp16 PIPELINE_DIR TARGET_DIR: store a pipeline in float16
    "$PYTHON" - "$1" "$2" <<'PY'
import sys

import torch

from swansphere.pipeline import Pipeline

pipeline = Pipeline.from_pretrained(sys.argv[1])
print("stored", pipeline.save_pretrained(sys.argv[2], dtype=torch.float16))
PY
}

train "$CONFIGS/codec.toml" "$RUNS/codec" codec --device "$DEVICE"
train "$CONFIGS/svac.toml" "$RUNS/svac" svac
train "$CONFIGS/stage1.toml" "$RUNS/stage1" pipeline --device "$DEVICE" \
    --set data.workers="$WORKERS"
train "$CONFIGS/stage2.toml" "$RUNS/stage2" pipeline --device "$DEVICE" \
    --set data.workers="$WORKERS"
train "$CONFIGS/stage2-history.toml" "$RUNS/stage2-history" pipeline --device "$DEVICE" \
    --set data.workers="$WORKERS"

# ODPO starts from the stage-2 model as it would ship (float16), and needs aisfx (setup.sh).
export_fp16 "$RUNS/stage2-history/pipeline" "$RUNS/stage2-history/pipeline-fp16"
train "$CONFIGS/odpo.toml" "$RUNS/odpo" pipeline --device "$DEVICE"
export_fp16 "$RUNS/odpo/pipeline" "$EXPORT"
