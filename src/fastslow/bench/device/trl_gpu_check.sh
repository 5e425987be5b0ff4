#!/usr/bin/env bash
# One device call for issue 10's GPU check (src/fastslow/bench/trl_gpu_check.py): install the carried wheels that the device
# image lacks (trl 1.16.0, datasets, gepa, pydantic, transformers 5.24: see below), then time the TRL engine next
# to the native engine on a randomly initialised ~0.5B Qwen3. Results land in $OUT/gpu/trl_gpu_check.json.
#   Here, once:  mkdir -p .git/info; echo /.whl/ >> .git/info/exclude; python -m pip download --no-deps \
#     --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 -d .whl \
#     trl==1.16.0 datasets==5.2.0 gepa==0.1.4 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 \
#     typing-inspection==0.4.5 dill==0.4.1 multiprocess==0.70.19 transformers==5.24.0
#   Device:      run(command="bash src/fastslow/bench/device/trl_gpu_check.sh", carry=[".whl"], timeout_s=480)
set -o pipefail
source src/fastslow/bench/device/env.sh
mkdir -p "$OUT/gpu"
python3 -c "import torch, transformers, trl, datasets, accelerate, pyarrow; print('torch', torch.__version__, \
'transformers', transformers.__version__, 'trl', trl.__version__, 'datasets', datasets.__version__, \
'accelerate', accelerate.__version__, 'pyarrow', pyarrow.__version__, 'cuda', torch.cuda.is_available())" || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv
timeout 420 python3 -m fastslow.bench.trl_gpu_check "$OUT/gpu" --steps 5 2>&1 | grep -v -E "^\{'|Warning|warnings.warn" \
  | tee "$OUT/gpu/log.txt"
