"""A short GPU check (run on a lent GPU machine): the same Trainer on CUDA through accelerate, plus the sampler
benchmark on the GPU. Usage: python -m fastslow.bench.device_check OUT_DIR"""

import json
import sys
import time
from pathlib import Path

import torch

from fastslow.bench.sampler_throughput import run as sampler_bench
from fastslow.config import parse_config
from fastslow.model.base import load_model
from fastslow.trainer import Trainer

out = Path(sys.argv[1])
report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
for mode in ("rl", "fst"):
    cfg = parse_config({"mode": mode, "output_dir": str(out / mode), "steps": 12, "task": {"name": "tidy"},
                        "population": {"size": 4, "cycle_steps": 6, "anchor_size": 16, "budget": 64},
                        "eval": {"every": 6, "problems": 32}})
    trainer = Trainer(cfg)
    assert next(trainer.learner.policy.parameters()).is_cuda and next(trainer.base.parameters()).is_cuda
    start = time.time()
    history = trainer.run(progress=False)
    evals = [h for h in history if h["kind"] == "eval"]
    steps = [h["time_step"] for h in history if h["kind"] == "train"]
    report[mode] = {"seconds": time.time() - start, "median_step_s": sorted(steps)[len(steps) // 2],
                    "val": [(e["step"], e["val_mean@4"], e["kl_to_base"]) for e in evals]}
model, tok = load_model("base", device="cuda")
report["sampler"] = sampler_bench(model, tok, repeats=5)
print(json.dumps(report, indent=1))
from fastslow.provenance import provenance

(out / "device_check.json").write_text(json.dumps({**report, "provenance": provenance()}, indent=1))
