#!/usr/bin/env bash
# One device call for issue 12's GPU ratios (src/fastslow/bench/gpu_speed.py): install the carried wheels the device image lacks
# (the list in src/fastslow/bench/device/trl_gpu_check.sh), then fst bench rl-step and step-time on a random ~0.5B Qwen3.
#   Device:      run(command="bash src/fastslow/bench/device/gpu_speed.sh", carry=[".whl"], timeout_s=540)
# Results land in $OUT/gpu-rl-step.json and $OUT/gpu-step-time.json (copied to docs/results/ by hand, unchanged).
set -o pipefail
source src/fastslow/bench/device/env.sh
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv
timeout 480 python3 -m fastslow.bench.gpu_speed "$OUT" --rl-steps 5 --fst-steps 12 2>&1 \
  | grep -v -E "^\{'|Warning|warnings.warn|Loading weights|Writing model" | tee "$OUT/log.txt"
