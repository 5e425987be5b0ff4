# Sourced by the device scripts (src/fastslow/bench/device/*.sh), from the repository root: install the carried wheels that the device
# image lacks (the list and the download command are in src/fastslow/bench/device/trl_gpu_check.sh) and set the environment.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || exit 1
export PYTHONPATH=/tmp/site:$PWD/src HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=8
OUT=${OUT:-/tmp/out}
