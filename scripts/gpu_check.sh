#!/usr/bin/env bash
# One prepared command for a GPU machine with JAX but no Keras/TensorFlow (see scripts/gpu_check.py):
#   scripts/gpu_check.sh            on the GPU machine; writes $OUT (or ./gpu-check-out)
#   scripts/gpu_check.sh --cpu      here, on the CPU (uses .venv/bin/python when present)
# Wheels it installs when Keras is missing, fetched beforehand into .whl/ (see docs/training.md):
# keras 3.15.1, namex 0.1.0, optree 0.20.0 (pure Python or manylinux, about 2.9 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
if ! "$PY" -c "import keras" 2>/dev/null; then
  ls .whl/*.whl >/dev/null 2>&1 || { echo "Keras is missing and .whl/ holds no wheels: see docs/training.md" >&2; exit 2; }
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax} PYTHONUNBUFFERED=1
exec nice -n 10 "$PY" scripts/gpu_check.py "$@"
