"""Soak benchmark (issue 20): a long run on the shipped base model, with the process's memory sampled, to show that
nothing grows without bound (RSS, the checkpoint folder).

    python -m fastslow.bench.soak rl  --steps 2000 --json docs/results/soak.json
    python -m fastslow.bench.soak fst --steps 600  --json docs/results/soak-fst.json

Why a benchmark and not a test: it takes tens of minutes on a shared CPU. Why RSS after warm-up: the first steps
allocate the allocator's pools, tokenizer caches and the optimizer state; growth is judged from the end of warm-up
(``--warmup`` fraction of the steps) to the end of the run, on medians over windows of steps so that one
garbage-collection hiccup neither hides nor fakes a leak. The checkpoint folder is listed after every save: it
must never hold more than ``checkpoint.keep`` complete checkpoints (plus at most one ``.tmp`` being written).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import torch

from fastslow.checkpoint import complete_checkpoints
from fastslow.config import parse_config
from fastslow.provenance import provenance
from fastslow.trainer import Trainer

GROWTH_LIMIT = 0.05  # the target: RSS growth after warm-up <= 5 %


class RssSink:
    """A metrics sink that samples the process's RSS at every logged record (one per step, plus evals)."""

    def __init__(self, ckpt_root: Path, keep: int):
        self.proc, self.ckpt_root, self.keep = psutil.Process(), ckpt_root, keep
        self.samples: list[tuple[int, float, float]] = []  # (step, seconds since start, RSS MiB)
        self.max_checkpoints = 0
        self.max_ckpt_mib = 0.0
        self.start = time.time()

    def write(self, step: int, metrics: dict) -> None:
        if metrics.get("kind") != "train":
            return
        self.samples.append((step, round(time.time() - self.start, 2), self.proc.memory_info().rss / 2**20))
        found = complete_checkpoints(self.ckpt_root)
        self.max_checkpoints = max(self.max_checkpoints, len(found))
        if self.ckpt_root.is_dir():
            size = sum(p.stat().st_size for p in self.ckpt_root.rglob("*") if p.is_file()) / 2**20
            self.max_ckpt_mib = max(self.max_ckpt_mib, size)

    def close(self) -> None:
        pass


def config(mode: str, steps: int, out: Path) -> dict:
    data = {"mode": mode, "seed": 0, "model": "base", "output_dir": str(out), "steps": steps,
            "task": {"name": "tidy"},
            "rollout": {"problems_per_step": 8, "group_size": 8, "max_new_tokens": 48},
            "learner": {"lr": 2e-4},
            "eval": {"every": max(1, steps // 4), "problems": 16, "kl_problems": 0},
            "checkpoint": {"every": max(1, steps // 20), "keep": 3}}
    if mode == "fst":
        data["population"] = {"size": 4, "cycle_steps": 10, "anchor_size": 8, "budget": 24}
    return data


def growth(samples: list[tuple[int, float, float]], warmup: float) -> dict:
    rss = [s[2] for s in samples]
    n = len(rss)
    w = max(1, int(n * warmup))
    window = max(1, n // 20)
    after_warmup = statistics.median(rss[w : w + window])
    end = statistics.median(rss[-window:])
    return {"rss_mib_after_warmup": round(after_warmup, 1), "rss_mib_end": round(end, 1),
            "rss_mib_max_after_warmup": round(max(rss[w:]), 1), "rss_mib_first": round(rss[0], 1),
            "growth_after_warmup": round(end / after_warmup - 1, 4), "window_steps": window, "warmup_steps": w}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("rl", "fst"))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--warmup", type=float, default=0.1, help="fraction of the steps counted as warm-up")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    prov = provenance(" ".join(["python", *sys.argv]))  # at start: the code that ran, not what the tree became
    with tempfile.TemporaryDirectory(prefix="fst-soak-") as tmp:
        data = config(args.mode, args.steps, Path(tmp) / "run")
        sink = RssSink(Path(tmp) / "run" / "checkpoints", data["checkpoint"]["keep"])
        start = time.time()
        Trainer(parse_config(data), sinks=[sink]).run(progress=False)
        seconds = time.time() - start
        final_ckpts = len(complete_checkpoints(Path(tmp) / "run" / "checkpoints"))
    result = {"mode": args.mode, "steps": args.steps, "seconds": round(seconds, 1), "config": data,
              **growth(sink.samples, args.warmup), "growth_limit": GROWTH_LIMIT,
              "checkpoint_keep": data["checkpoint"]["keep"], "max_checkpoints_seen": sink.max_checkpoints,
              "checkpoints_at_end": final_ckpts, "max_checkpoint_folder_mib": round(sink.max_ckpt_mib, 2),
              "rss_samples": [[s, t, round(r, 1)] for s, t, r in sink.samples[:: max(1, len(sink.samples) // 200)]],
              "provenance": prov}
    result["rss_ok"] = result["growth_after_warmup"] <= GROWTH_LIMIT
    result["checkpoints_bounded"] = sink.max_checkpoints <= data["checkpoint"]["keep"]
    print(json.dumps({k: v for k, v in result.items() if k not in ("rss_samples", "provenance", "config")}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
