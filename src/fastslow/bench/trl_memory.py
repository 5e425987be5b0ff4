"""Peak memory per process of one ``engine: trl`` step at several micro-batch sizes (issue 19).

Each setting runs in a fresh process (peak RSS is a per-process high-water mark): SmolLM2-135M-Instruct (built
offline by ``fst models smollm2``) with LoRA, mode rl, B x G rollouts per step, one optimizer step. Reported: the
peak RSS once the trainer is built (model, reference, dataset) and after the step; the step's own peak is the
difference. On a GPU the peak allocated GPU memory is reported too.

    python -m fastslow.bench.trl_memory --out docs/results/trl-memory.json            # micro-batch 4, 16 and whole batch
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

B, G, NEW_TOKENS = 4, 8, 48  # 32 rollouts per step


def run_config(out: Path, micro: int) -> dict:
    return {"mode": "rl", "engine": "trl", "seed": 0, "output_dir": str(out), "steps": 1,
            "model": {"path": "smollm2", "lora": {"r": 8, "alpha": 16.0, "target_modules": "all-linear"}},
            "task": {"name": "tidy", "partial_credit": True},
            "rollout": {"problems_per_step": B, "group_size": G, "max_new_tokens": NEW_TOKENS},
            "learner": {"lr": 1e-4, "warmup_steps": 1, "micro_batch_size": micro, "drop_zero_variance": False},
            "eval": {"every": 100, "problems": 1, "k": 1, "kl_problems": 0}, "checkpoint": {"every": 100}}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one(micro: int) -> dict:
    """In this process: build the trainer, take one step, report the peaks."""
    import torch

    from fastslow.config import parse_config
    from fastslow.integrations.trl import build_trl_trainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config(run_config(Path(tmp) / "run", micro))
        trainer, _ = build_trl_trainer(cfg)
        built = peak_rss_mib()
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        result = {"micro_batch_size": trainer.args.per_device_train_batch_size,
                  "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps,
                  "rollouts_per_step": B * G, "peak_rss_built_mib": built, "peak_rss_step_mib": peak_rss_mib(),
                  "step_seconds": seconds}
        result["step_rss_increase_mib"] = result["peak_rss_step_mib"] - built
        if torch.cuda.is_available():
            result["peak_gpu_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micro", type=int, nargs="+", default=[4, 16, B * G], help="micro-batch sizes")
    parser.add_argument("--out", type=Path, help="results JSON")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print("RESULT " + json.dumps(one(args.one)))
        return
    from fastslow.provenance import provenance

    command = " ".join(["python", "-m", "fastslow.bench.trl_memory", *sys.argv[1:]])
    rows = []
    for micro in args.micro:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        proc = subprocess.run([sys.executable, __file__, "--one", str(micro)], capture_output=True, text=True,
                              env=env, check=False)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode or line is None:
            sys.exit(f"micro-batch {micro} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        rows.append(json.loads(line.removeprefix("RESULT ")))
        print(rows[-1], flush=True)
    import torch

    result = {"model": "smollm2 (SmolLM2-135M-Instruct, fp32) + LoRA r=8 all-linear", "engine": "trl",
              "processes": 1, "device": "cuda" if torch.cuda.is_available() else "cpu",
              "rollouts_per_step": B * G, "max_new_tokens": NEW_TOKENS, "rows": rows,
              "provenance": provenance(command)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
