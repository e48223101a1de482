#!/usr/bin/env bash
# One device check for the day a GPU is lent (benchmarks/gpu_check.py does the work):
# training throughput (samples/s), dense-scoring throughput (cells/s) and peak GPU memory of
# blend_cell (CPU, scikit-learn), dense_cnn and resnet18 on a synthetic stack.
#
#   bash benchmarks/gpu_check.sh              # CUDA, default sizes; JSON to $OUT (else benchmarks/results)
#   bash benchmarks/gpu_check.sh --smoke      # tiny sizes on the CPU, under a minute
#   bash benchmarks/gpu_check.sh --out DIR    # any option of gpu_check.py
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
exec "${PYTHON:-python3}" "$here/gpu_check.py" "$@"
