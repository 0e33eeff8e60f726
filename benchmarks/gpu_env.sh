# Sourced on a lent GPU by benchmarks/gpu_session.sh and benchmarks/gpu_speed.sh (with PYTHON,
# SITE, CARRY and LOG set): installs the carried wheels (benchmarks/gpu_carry.sh) into $SITE,
# points Python at them and logs the card and the versions.
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$CARRY"/wheels/*.whl || exit 1
ln -sfn "$PWD/core/models" "$SITE/swansphere/models"  # the shipped models, from the tree
export PYTHONPATH="$SITE" PATH="$SITE/bin:$PATH"
export LD_LIBRARY_PATH="$SITE/nvidia/cuda_runtime/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv | tee -a "$LOG"
"$PYTHON" -c "import swansphere, torch; print('swansphere', swansphere.__version__, 'from', \
swansphere.__file__, '| torch', torch.__version__)" | tee -a "$LOG"
