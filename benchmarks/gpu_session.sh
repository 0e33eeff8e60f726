#!/usr/bin/env bash
# The prepared run for a lent GPU (one call, under 10 minutes). PHASES lists what it does, in
# the order given (default: the first session's "codec stage1 stage2 global-dit check"):
#   check         xformers against SDPA on CUDA, and paper-l timed (gpu_attention_check.py)
#   codec stage1 stage2 global-dit
#                 train the shipped tiny model's codec and pipeline stages, and the global-DiT
#                 baseline, with the recipe in benchmarks/configs/tiny
#   stage2-history  continue stage 2 from core/models/tiny with audio-history dropout
#                 (benchmarks/configs/tiny/stage2-history.toml)
#   odpo          ODPO (benchmarks/configs/tiny/odpo.toml) from the stage2-history model if
#                 this call made one, else from START (default core/models/tiny, which now
#                 ships after ODPO: START=runs/tiny/stage2-history/pipeline-fp16 repeats the
#                 shipped run)
#
# Before the call, on the CPU machine: for the codec..stage2 phases, the SVAC step of
# scripts/train-tiny.sh (runs/tiny/svac); always, wheels of this package and of what the GPU
# image lacks in .whl/ (libcudart 12: the xformers 0.0.35 wheel was built against CUDA 12.8,
# the image's torch against CUDA 13):
#   .venv/bin/pip wheel --no-deps -w .whl .
#   pip download --no-deps --only-binary=:all: --python-version 3.12 ... -d .whl \
#       cattrs==26.2.1 entrypoints==0.4.2 soundfile==0.14.0 tomli-w==1.2.0 xformers==0.0.35 \
#       nvidia-cuda-runtime-cu12==12.8.90
#   and for the odpo phase (its fidelity reward) aisfx==0.1.2 too: 23 MB, so leave xformers and
#   the CUDA runtime out of that call to stay under the 64 MiB a call may carry.
# For training on the sound vocabulary (data.source = "vocabulary"), the clip bank: the GPU
# image has none of the Debian sound sets nor fluidsynth, so export the vocabulary's permissive
# clips once, as 16 kHz OGG Vorbis (11 MiB, 730 clips; docs/data.md, "Clip banks"):
#   .venv/bin/swansphere data bank export runs/bank
#   and carry runs/bank with .whl (runs/ is git-ignored; it counts in the 64 MiB); this script
#   points SWANSPHERE_BANK at it, so the catalogue reads the bank in place of the missing sets.
# ./benchmarks/gpu_session.sh --help prints this header.
# Each training phase has a wall-clock limit (PHASE_SECONDS variables below); a phase cut
# short is exported from its newest checkpoint, and the log says so. Results land in $OUT.
set -uo pipefail
case "${1:-}" in
    -h|--help) sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
esac
export PYTHONUNBUFFERED=1
OUT="${OUT:-runs/gpu}"
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PATH="/tmp/site/bin:$PATH"
export LD_LIBRARY_PATH="/tmp/site/nvidia/cuda_runtime/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PHASES=${PHASES:-codec stage1 stage2 global-dit check}
SWANSPHERE=/tmp/site/bin/swansphere
CONFIGS=benchmarks/configs/tiny
WORKERS=$(( $(nproc) - 2 ))
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/log.txt"
python3 -c "import torch, xformers; print('torch', torch.__version__, 'xformers', xformers.__version__)" \
    | tee -a "$OUT/log.txt"
export SWANSPHERE_BANK="${SWANSPHERE_BANK:-$PWD/runs/bank}"  # the clip bank carried along
if [ -f "$SWANSPHERE_BANK/index.json" ]; then
    echo "clip bank $SWANSPHERE_BANK: $(du -sh "$SWANSPHERE_BANK" | cut -f1)" | tee -a "$OUT/log.txt"
else
    echo "no clip bank at $SWANSPHERE_BANK: vocabulary training has only the synthesised" \
        "sources" | tee -a "$OUT/log.txt"
fi

exported() {  # exported RUN NAME: the run's export, else its newest checkpoint
    local run=$1 name=$2 last
    [ -f "$run/$name/model.safetensors" ] && return 0
    last=$(ls -d "$run"/checkpoints/step-* 2>/dev/null | tail -n 1)
    [ -n "$last" ] || { echo "no checkpoint in $run" | tee -a "$OUT/log.txt"; return 1; }
    echo "$run stopped early: using $last" | tee -a "$OUT/log.txt"
    mkdir -p "$run/$name" && cp "$last"/* "$run/$name/"
}

train() {  # train SECONDS CONFIG RUN NAME [options]
    local seconds=$1 config=$2 run=$3 name=$4
    shift 4
    local start=$SECONDS resume=()
    if [ -n "$(ls -A "$run/checkpoints" 2>/dev/null)" ]; then
        resume=(--resume "$run")
    elif [ -d "$run" ]; then
        resume=(--overwrite)  # stopped before its first checkpoint: nothing to resume
    fi
    # shellcheck disable=SC2086  # TRAIN_OPTIONS: more options for every phase (e.g. a CPU dry
    # run: DEVICE=cpu TRAIN_OPTIONS="--set run.steps=2 --set data.train_scenes=8")
    timeout "$seconds" "$SWANSPHERE" train "$config" "${resume[@]}" --device "${DEVICE:-cuda}" \
        --no-progress "$@" ${TRAIN_OPTIONS:-} \
        2>&1 | grep -v "^WARNING" | tail -n 8 | tee -a "$OUT/log.txt"
    echo "$config: $((SECONDS - start)) s" | tee -a "$OUT/log.txt"
    exported "$run" "$name"
}

store() {  # store RUN NAME: the run's pipeline as float16, packed in $OUT/NAME.tar.part-*
    # (files come back at most 16 MiB each; join with: cat NAME.tar.part-* | tar x)
    python3 -c "import sys, torch; from swansphere.pipeline import Pipeline; \
Pipeline.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2], dtype=torch.float16)" \
        "runs/tiny/$1/pipeline" "models/$2" &&
        tar -cf - "models/$2" | split -b 15M - "$OUT/$2.tar.part-"
}
metrics() {
    for run in codec stage1 stage2 global-dit stage2-history odpo; do
        [ -f "runs/tiny/$run/metrics.jsonl" ] && sed "s/^/$run /" "runs/tiny/$run/metrics.jsonl"
    done > "$OUT/metrics.txt"
}
phase_check() {
    timeout "${CHECK_SECONDS:-80}" python3 benchmarks/gpu_attention_check.py \
        --json "$OUT/gpu_attention_check.json" 2>&1 | tail -n 40 | tee "$OUT/gpu_check.txt"
    return 0  # a disagreement is a finding (in gpu_check.txt), not a reason to stop
}
phase_codec() {
    train "${CODEC_SECONDS:-150}" "$CONFIGS/codec.toml" runs/tiny/codec codec \
        --set run.checkpoint_every=500
}
phase_stage1() {
    train "${STAGE1_SECONDS:-90}" "$CONFIGS/stage1.toml" runs/tiny/stage1 pipeline \
        --set data.workers="$WORKERS" --set run.checkpoint_every=250
}
phase_stage2() {
    train "${STAGE2_SECONDS:-200}" "$CONFIGS/stage2.toml" runs/tiny/stage2 pipeline \
        --set data.workers="$WORKERS" --set run.checkpoint_every=250 \
        --set run.validate_every=1000 && store stage2 tiny
}
START=${START:-core/models/tiny}  # where the stage2-history and odpo phases begin
phase_stage2_history() {
    train "${STAGE2_HISTORY_SECONDS:-240}" "$CONFIGS/stage2-history.toml" runs/tiny/stage2-history \
        pipeline --set init="\"$START\"" --set data.workers="$WORKERS" \
        --set run.checkpoint_every=250 && store stage2-history tiny-history &&
        START=runs/tiny/stage2-history/pipeline
}
phase_odpo() {
    train "${ODPO_SECONDS:-150}" "$CONFIGS/odpo.toml" runs/tiny/odpo pipeline \
        --set pipeline="\"$START\"" --set run.checkpoint_every=25 && store odpo tiny-odpo
}
phase_global_dit() {
    train "${GLOBAL_SECONDS:-100}" "$CONFIGS/global-dit.toml" runs/tiny/global-dit pipeline \
        --set data.workers="$WORKERS" --set run.checkpoint_every=250 && store global-dit global-dit
}

for phase in $PHASES; do
    "phase_${phase//-/_}" || { echo "phase $phase failed" | tee -a "$OUT/log.txt"; metrics; exit 1; }
    metrics
done
echo "total $SECONDS s" | tee -a "$OUT/log.txt"
