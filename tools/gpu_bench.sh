#!/usr/bin/env bash
# The GPU figures in one prepared run (for the device tool's machine, from the repository
# root): set up the venv if it is not there, then the benchmark on CUDA in fp32 and in
# fp16 + channels_last (tools/bench.py checks fp16 against fp32), the 1:N search up to
# 1M templates on the GPU, and the JSON into $OUT (or the current folder).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || make setup >/dev/null
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
.venv/bin/python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'"
.venv/bin/python -m tools.bench --device cuda --variants --no-reference \
    --json "${OUT:-.}/gpu-bench.json"
