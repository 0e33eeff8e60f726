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
# A resumed pipeline step whose `init` pipeline is not here starts from its own checkpoint.
#
# Time limits (for a lent GPU's short windows, benchmarks/gpu_session.sh):
#   PHASES           the steps to run, in order (default: codec svac stage1 stage2
#                    stage2-history odpo; global-dit too where the recipe has global-dit.toml)
#   SESSION_SECONDS  wall-clock budget of this call: a step still running when it is spent is
#                    stopped, stays resumable, and the script exits 3 ("resume later")
#   CODEC_SECONDS, SVAC_SECONDS, STAGE1_SECONDS, STAGE2_SECONDS, STAGE2_HISTORY_SECONDS,
#   ODPO_SECONDS, GLOBAL_DIT_SECONDS
#                    a step's own limit: when it strikes, the step ends there (its newest
#                    checkpoint becomes its model) and the recipe moves on
#   TRAIN_OPTIONS    more `swansphere train` options for every step, and CODEC_OPTIONS,
#                    SVAC_OPTIONS, STAGE1_OPTIONS, ... for one step (word-split; a dry run:
#                    STAGE1_OPTIONS="--steps 2 --set data.train_scenes=8")
# ODPO's fidelity (and tiny-next's identity) reward uses the aisfx embedding; where aisfx is
# not installed (a lent GPU) the step says so and uses its log-mel fallback instead.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE="${DEVICE:-cpu}"
WORKERS="${WORKERS:-$(nproc)}"
SWANSPHERE="${SWANSPHERE:-.venv/bin/swansphere}"
PYTHON="${PYTHON:-.venv/bin/python}"
EXPORT="${EXPORT:-core/models/tiny}"
CONFIGS="${CONFIGS:-benchmarks/configs/tiny}"
RUNS="runs/$(basename "$CONFIGS")"
PHASES="${PHASES:-codec svac stage1 stage2 stage2-history odpo}"
START=$SECONDS
OUT_OF_TIME=3

say() { echo "train-tiny: $*"; }

newest_checkpoint() { ls -d "$1"/checkpoints/step-* 2>/dev/null | tail -n 1 || true; }

variable() { echo "$(echo "$1" | tr 'a-z-' 'A-Z_')_$2"; }  # variable stage2-history SECONDS

step_limit() {  # step_limit PHASE: "SECONDS own|session", or nothing without a limit
    local own_var own left
    own_var=$(variable "$1" SECONDS)
    own="${!own_var:-}"
    if [ -n "${SESSION_SECONDS:-}" ]; then
        left=$((SESSION_SECONDS - (SECONDS - START)))
        if [ -z "$own" ] || [ "$left" -le "$own" ]; then echo "$left session"; return; fi
    fi
    [ -n "$own" ] && echo "$own own"
    return 0
}

promote() {  # promote RUN NAME: the newest checkpoint's model becomes the run's export
    local last
    last=$(newest_checkpoint "$1")
    [ -n "$last" ] || { say "no checkpoint in $1 to stop at"; return 1; }
    say "$1 stopped at its own limit: its model is $last"
    mkdir -p "$1/$2"
    find "$last" -maxdepth 1 -type f ! -name optimizer.safetensors \
        ! -name trainer_state.json ! -name train.toml -exec cp {} "$1/$2/" \;
}

train() {  # train PHASE CONFIG RUN_DIR EXPORT_NAME [options]: skip when exported, else resume
    local phase=$1 config=$2 run=$3 exported=$4 limit="" kind="" status=0 init last
    shift 4
    if [ -d "$run/$exported" ]; then
        say "$run/$exported exists; skipping $config"
        return
    fi
    if [ -f "$run/exported-elsewhere" ]; then  # benchmarks/gpu_resume.py: done on a lent GPU
        say "$run is done (its model stayed where it was trained); skipping $config"
        return
    fi
    read -r limit kind <<<"$(step_limit "$phase")"
    if [ -n "$limit" ] && [ "$limit" -lt 20 ]; then
        say "no time left for $config: it resumes next time"
        return $OUT_OF_TIME
    fi
    local resume=()
    last=$(newest_checkpoint "$run")
    if [ -n "$last" ]; then
        resume=(--resume "$run")
        init=$(sed -n 's/^init = "\(.*\)"$/\1/p' "$config")
        if [ -n "$init" ] && [ ! -d "$init" ]; then
            resume+=(--set "init=\"$last\"")  # its weights are replaced by the checkpoint's
        fi
    elif [ -d "$run" ]; then
        resume=(--overwrite)  # stopped before its first checkpoint: nothing to resume
    fi
    local options_var
    options_var=$(variable "$phase" OPTIONS)
    # shellcheck disable=SC2206  # option lists, word-split
    local command=("$SWANSPHERE" train "$config" "${resume[@]}" --no-progress "$@"
                   ${TRAIN_OPTIONS:-} ${!options_var:-})
    if [ -n "$limit" ]; then
        timeout "$limit" "${command[@]}" || status=$?
    else
        "${command[@]}" || status=$?
    fi
    [ -d "$run/$exported" ] && return 0
    if [ "$status" -ne 124 ]; then
        say "$config failed (exit $status)"
        return 1
    fi
    if [ "$kind" = own ]; then
        promote "$run" "$exported"
        return
    fi
    say "$config: the session's time is spent at $(newest_checkpoint "$run"); it resumes next time"
    return $OUT_OF_TIME
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

odpo_config() {  # the ODPO recipe, with the log-mel embedding for its rewards where aisfx is missing
    if "$PYTHON" -c "import importlib.util, sys; sys.exit(not importlib.util.find_spec('aisfx'))"
    then
        echo "$CONFIGS/odpo.toml"
        return
    fi
    say "aisfx is not installed: ODPO's fidelity and identity rewards use the log-mel embedding" >&2
    mkdir -p "$RUNS"
    "$PYTHON" - "$CONFIGS/odpo.toml" "$RUNS/odpo-log-mel.toml" <<'PY'
import sys
import tomllib

import tomli_w

config = tomllib.loads(open(sys.argv[1], encoding="utf-8").read())
for entry in config.get("rewards", []):
    if entry["reward"]["type"] in ("fidelity", "identity"):
        entry["reward"]["embedding"] = "log-mel"
open(sys.argv[2], "wb").write(tomli_w.dumps(config).encode("utf-8"))
PY
    echo "$RUNS/odpo-log-mel.toml"
}

run_phase() {  # run_phase PHASE
    case "$1" in
        codec) train codec "$CONFIGS/codec.toml" "$RUNS/codec" codec --device "$DEVICE" ;;
        svac) train svac "$CONFIGS/svac.toml" "$RUNS/svac" svac ;;
        stage1 | stage2 | stage2-history | global-dit)
            train "$1" "$CONFIGS/$1.toml" "$RUNS/$1" pipeline --device "$DEVICE" \
                --set data.workers="$WORKERS" ;;
        odpo)
            # ODPO starts from the stage-2 model as it would ship (float16); needs aisfx
            # (setup.sh) for the fidelity and identity rewards as the recipes have them.
            if [ ! -d "$RUNS/odpo/pipeline" ] && [ ! -d "$RUNS/stage2-history/pipeline-fp16" ]
            then
                export_fp16 "$RUNS/stage2-history/pipeline" "$RUNS/stage2-history/pipeline-fp16"
            fi
            train odpo "$(odpo_config)" "$RUNS/odpo" pipeline --device "$DEVICE"
            export_fp16 "$RUNS/odpo/pipeline" "$EXPORT" ;;
        *) say "unknown step $1"; return 1 ;;
    esac
}

for phase in $PHASES; do
    run_phase "$phase"
done
