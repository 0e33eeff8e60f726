#!/usr/bin/env bash
# The prepared run for a lent GPU (one call, under 10 minutes): train the shipped tiny model's
# codec and both pipeline stages with the recipe in benchmarks/configs/tiny, then check
# xformers against SDPA on CUDA and time paper-l (benchmarks/gpu_attention_check.py).
#
# Before the call, on the CPU machine: the SVAC step of scripts/train-tiny.sh (runs/tiny/svac),
# and wheels of this package and of what the GPU image lacks in .whl/:
#   .venv/bin/pip wheel --no-deps -w .whl .
#   pip download --no-deps --only-binary=:all: --python-version 3.12 ... -d .whl \
#       cattrs==26.2.1 entrypoints==0.4.2 soundfile==0.14.0 tomli-w==1.2.0 xformers==0.0.35
# Then it trains the global-DiT baseline (benchmarks/configs/tiny/global-dit.toml) on the same
# scenes. Each training step has a wall-clock limit; a step cut short is exported from its
# newest checkpoint, and the log says so. Results land in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT="${OUT:-runs/gpu}"
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PATH="/tmp/site/bin:$PATH"
SWANSPHERE=/tmp/site/bin/swansphere
CONFIGS=benchmarks/configs/tiny
WORKERS=$(( $(nproc) - 2 ))
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/log.txt"
python3 -c "import torch, xformers; print('torch', torch.__version__, 'xformers', xformers.__version__)" \
    | tee -a "$OUT/log.txt"

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
    [ -d "$run/checkpoints" ] && resume=(--resume "$run")
    # shellcheck disable=SC2086  # REHEARSAL holds extra options (a dry run on the CPU)
    timeout "$seconds" "$SWANSPHERE" train "$config" "${resume[@]}" --device "${DEVICE:-cuda}" \
        --no-progress "$@" ${REHEARSAL:-} \
        2>&1 | grep -v "^WARNING" | tail -n 8 | tee -a "$OUT/log.txt"
    echo "$config: $((SECONDS - start)) s" | tee -a "$OUT/log.txt"
    exported "$run" "$name"
}

train "${CODEC_SECONDS:-150}" "$CONFIGS/codec.toml" runs/tiny/codec codec \
    --set run.checkpoint_every=500 || exit 1
train "${STAGE1_SECONDS:-90}" "$CONFIGS/stage1.toml" runs/tiny/stage1 pipeline \
    --set data.workers="$WORKERS" --set run.checkpoint_every=250 || exit 1
train "${STAGE2_SECONDS:-200}" "$CONFIGS/stage2.toml" runs/tiny/stage2 pipeline \
    --set data.workers="$WORKERS" --set run.checkpoint_every=250 \
    --set run.validate_every=1000 || exit 1

store() {  # store RUN NAME: the run's pipeline as float16, packed in $OUT/NAME.tar.part-*
    # (files come back at most 16 MiB each; join with: cat NAME.tar.part-* | tar x)
    python3 -c "import sys, torch; from swansphere.pipeline import Pipeline; \
Pipeline.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2], dtype=torch.float16)" \
        "runs/tiny/$1/pipeline" "models/$2" &&
        tar -cf - "models/$2" | split -b 15M - "$OUT/$2.tar.part-"
}
metrics() {
    for run in codec stage1 stage2 global-dit; do
        [ -f "runs/tiny/$run/metrics.jsonl" ] && sed "s/^/$run /" "runs/tiny/$run/metrics.jsonl"
    done > "$OUT/metrics.txt"
}
store stage2 tiny
metrics
train "${GLOBAL_SECONDS:-100}" "$CONFIGS/global-dit.toml" runs/tiny/global-dit pipeline \
    --set data.workers="$WORKERS" --set run.checkpoint_every=250 && store global-dit global-dit
metrics

[ "${CHECK_SECONDS:-80}" -gt 0 ] && timeout "${CHECK_SECONDS:-80}" python3 \
    benchmarks/gpu_attention_check.py --json "$OUT/gpu_attention_check.json" 2>&1 |
    tail -n 40 | tee "$OUT/gpu_check.txt"
echo "total $SECONDS s" | tee -a "$OUT/log.txt"
