#!/usr/bin/env bash
# Build what a lent GPU call of benchmarks/gpu_session.sh carries, in runs/gpu-carry/, and
# print the call's size against the 64 MiB it may carry (exit 1 when over):
#   bash benchmarks/gpu_carry.sh [FOLDER]
# FOLDER holds the files the last call brought back (resume.tar.xz.part-*); without it, the
# recipe's runs here (runs/tiny-next, e.g. an SVAC trained on this CPU) are packed instead.
# The carry (the call's carry: ["runs/gpu-carry", "runs/bank"]):
#   wheels/   this package built from the working tree without its shipped models (the tree
#             carries them), and, for Python 3.12 x86-64, what the GPU image lacks: cattrs,
#             entrypoints, soundfile (+ cffi, pycparser), tomli-w, python-debian (the
#             catalogue reads Debian copyright files even where the sets are missing)
#   minilm.safetensors[.xz]  the compact MiniLM (python -m swansphere.data.minilm_compact),
#             float16; when that does not fit beside the resume, bfloat16, xz-compressed
#   resume/   the runs to continue (benchmarks/gpu_resume.py)
#   runs/bank the clip bank (swansphere data bank export runs/bank), made if missing
# With PURPOSE=speed it builds what benchmarks/gpu_speed.sh needs instead: the wheels, plus
# pytest and Hypothesis for its CUDA tests, and no MiniLM, resume or bank (carry:
# ["runs/gpu-carry"]).
# Variables: CONFIGS (benchmarks/configs/tiny-next), PYTHON (.venv/bin/python), PURPOSE.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
CONFIGS="${CONFIGS:-benchmarks/configs/tiny-next}"
RUNS="runs/$(basename "$CONFIGS")"
CARRY=runs/gpu-carry
BUDGET=$((64 * 2**20))
IMAGE_LACKS=(cattrs==26.2.1 entrypoints==0.4.2 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12
             tomli-w==1.2.0 python-debian==1.1.1)
TEST_WHEELS=(pytest==9.2.0 hypothesis==6.170.17 iniconfig==2.3.1 pluggy==1.7.0
             sortedcontainers==2.4.0)
[ "${PURPOSE:-training}" = speed ] && IMAGE_LACKS+=("${TEST_WHEELS[@]}")

mkdir -p "$CARRY/wheels"
rm -f "$CARRY"/wheels/*.whl
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
present() { while IFS= read -r file; do [ -e "$file" ] && printf '%s\n' "$file"; done; }
git ls-files -co --exclude-standard | present | grep -v '^core/models/' | tar -cf - -T - \
    | tar -xf - -C "$tree"
"$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$CARRY/wheels" "$tree" >/dev/null
"$PYTHON" -m pip download -q --no-deps --disable-pip-version-check --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$CARRY/wheels" "${IMAGE_LACKS[@]}"

rm -rf "$CARRY/resume" "$CARRY"/minilm.safetensors*
if [ "${PURPOSE:-training}" = speed ]; then
    echo "gpu_carry: the call carries $(du -sb --apparent-size "$CARRY" | cut -f1) bytes of" \
        "wheels besides the tree (64 MiB in all)"
    exit 0
fi
if [ $# -gt 0 ]; then
    mkdir -p "$CARRY/resume"
    cp "$1"/resume.tar.xz.part-* "$CARRY/resume/"
elif [ -d "$RUNS" ]; then
    "$PYTHON" benchmarks/gpu_resume.py pack "$RUNS" "$CARRY/resume"
fi
[ -f runs/bank/index.json ] || .venv/bin/swansphere data bank export runs/bank

size() { du -sb "$@" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
travelling() {  # the tree that travels (tracked and untracked-not-ignored files) + the carry
    echo $(( $(git ls-files -co --exclude-standard | present | tr '\n' '\0' \
        | du -cb --files0-from=- | tail -n 1 | cut -f1) + $(size "$CARRY" runs/bank) ))
}
"$PYTHON" -m swansphere.data.minilm_compact "$CARRY/minilm.safetensors" --check 0
if [ "$(travelling)" -gt "$BUDGET" ]; then
    echo "gpu_carry: float16 MiniLM too big for this call; writing it in bfloat16, compressed"
    "$PYTHON" -m swansphere.data.minilm_compact "$CARRY/minilm.safetensors" \
        --dtype bfloat16 --check 0
    "$PYTHON" benchmarks/gpu_resume.py xz "$CARRY/minilm.safetensors"
    rm "$CARRY/minilm.safetensors"
fi

total=$(travelling)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 2^20}'; }
echo "gpu_carry: tree $(mib $(( total - $(size "$CARRY" runs/bank) ))), wheels" \
    "$(mib "$(size "$CARRY/wheels")"), MiniLM $(mib "$(size "$CARRY"/minilm.*)"), resume" \
    "$(mib "$(size "$CARRY/resume")"), bank $(mib "$(size runs/bank)")"
echo "gpu_carry: the call carries $(mib "$total") of $(mib "$BUDGET")"
[ "$total" -le "$BUDGET" ] || { echo "gpu_carry: over the budget" >&2; exit 1; }
