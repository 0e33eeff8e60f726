#!/usr/bin/env bash
# The CPU dry run of benchmarks/gpu_session.sh: two calls on a copy of the working tree, a
# couple of steps per phase, with the carry of benchmarks/gpu_carry.sh (run it first) less the
# wheels that do not install on this Python (they are in .venv already).
#   1st call: codec, svac, stage1, then stage2 until the session's time is spent (cut, packed)
#   2nd call: a fresh tree given the 1st call's files: stage2 resumes from its checkpoint and
#             stops at its own limit, then stage2-history and odpo; the model is exported
#   bash benchmarks/gpu_dry_run.sh [WORK_DIR]      # default: a new /tmp/gpu-dry-run.*
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK="${1:-$(mktemp -d /tmp/gpu-dry-run.XXXXXX)}"
[ -f runs/gpu-carry/wheels/swansphere-0.1.0-py3-none-any.whl ] || {
    echo "gpu_dry_run: run benchmarks/gpu_carry.sh first" >&2; exit 1; }

tree() {  # tree DIR: the working tree as a call carries it, with the carry
    local file
    mkdir -p "$1/runs/gpu-carry/wheels"
    git ls-files -co --exclude-standard | while IFS= read -r file; do
        [ -e "$file" ] && printf '%s\n' "$file"; done | tar -cf - -T - | tar -xf - -C "$1"
    cp -r runs/bank "$1/runs/bank"
    cp runs/gpu-carry/minilm.safetensors* "$1/runs/gpu-carry/"
    cp runs/gpu-carry/wheels/*-none-any.whl "$1/runs/gpu-carry/wheels/"
}

SMALL="--set data.train_scenes=8 --set data.validation_scenes=2 --set run.batch_size=4"
export DEVICE=cpu PYTHON="$ROOT/.venv/bin/python" SITE="$WORK/site" WORKERS=0
export CODEC_OPTIONS="--set data.train_scenes=8 --set data.validation_scenes=2"
export SVAC_OPTIONS="--steps 2 --set data.train_scenes=8 --set data.validation_scenes=8
    --set run.batch_size=4"
export STAGE1_OPTIONS="--steps 2 $SMALL"
export STAGE2_OPTIONS="--steps 100000 --set run.checkpoint_every=1 --set run.validate_every=100000
    --set validation.generated_scenes=0 $SMALL"
export STAGE2_HISTORY_OPTIONS="--steps 2 --set validation.generated_scenes=1 $SMALL"
export ODPO_OPTIONS="--steps 2 --set prompts.train_prompts=2 --set prompts.validation_prompts=1
    --set odpo.candidates=2 --set odpo.noise_draws=1 --set run.validate_every=2
    --set run.checkpoint_every=1 --set run.batch_size=2"

tree "$WORK/call1"
(cd "$WORK/call1" && OUT="$WORK/out1" SESSION_SECONDS="${FIRST_SECONDS:-75}" \
    bash benchmarks/gpu_session.sh) || [ $? = 3 ] || exit 1
tree "$WORK/call2"
mkdir -p "$WORK/call2/runs/gpu-carry/resume"
cp "$WORK"/out1/resume.tar.xz.part-* "$WORK/call2/runs/gpu-carry/resume/"
(cd "$WORK/call2" && OUT="$WORK/out2" STAGE2_SECONDS=30 bash benchmarks/gpu_session.sh)
ls -l "$WORK/out1" "$WORK/out2"
echo "gpu_dry_run: done in $WORK"
