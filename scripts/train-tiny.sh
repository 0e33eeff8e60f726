#!/usr/bin/env bash
# Train the shipped `tiny` model from nothing, with the repository's own recipe and data that
# is synthesised here (no downloads): codec -> SVAC video encoder -> stage 1 (pseudo-FOA) ->
# stage 2 (FOA + text + video) -> stage 2 continued with audio-history dropout (so that text
# sets the direction too) -> ODPO (online preference optimisation of the direction), then store
# it in the package (core/models/tiny, float16).
#
#   DEVICE=cuda bash scripts/train-tiny.sh      # a GPU: minutes
#   bash scripts/train-tiny.sh                  # the CPU: many hours at these step counts
#
# WORKERS sets the scene-rendering processes (default: all cores); SWANSPHERE the command;
# EXPORT the directory the finished model goes to. Every step resumes from its newest
# checkpoint when run again, so an interrupted run continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE="${DEVICE:-cpu}"
WORKERS="${WORKERS:-$(nproc)}"
SWANSPHERE="${SWANSPHERE:-.venv/bin/swansphere}"
PYTHON="${PYTHON:-.venv/bin/python}"
EXPORT="${EXPORT:-core/models/tiny}"
CONFIGS=benchmarks/configs/tiny

train() {  # train CONFIG RUN_DIR [options]: resume when the run has checkpoints
    local config=$1 run=$2
    shift 2
    local resume=()
    [ -d "$run/checkpoints" ] && resume=(--resume "$run")
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

train "$CONFIGS/codec.toml" runs/tiny/codec --device "$DEVICE"
train "$CONFIGS/svac.toml" runs/tiny/svac
train "$CONFIGS/stage1.toml" runs/tiny/stage1 --device "$DEVICE" --set data.workers="$WORKERS"
train "$CONFIGS/stage2.toml" runs/tiny/stage2 --device "$DEVICE" --set data.workers="$WORKERS"
train "$CONFIGS/stage2-history.toml" runs/tiny/stage2-history --device "$DEVICE" \
    --set data.workers="$WORKERS"

# ODPO starts from the stage-2 model as it would ship (float16), and needs aisfx (setup.sh).
export_fp16 runs/tiny/stage2-history/pipeline runs/tiny/stage2-history/pipeline-fp16
train "$CONFIGS/odpo.toml" runs/tiny/odpo --device "$DEVICE"
export_fp16 runs/tiny/odpo/pipeline "$EXPORT"
