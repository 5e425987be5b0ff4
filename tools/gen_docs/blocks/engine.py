"""docs/BENCHMARKS.md section 13's peak-memory table of one ``engine: trl`` step per micro-batch size, from
docs/results/trl-memory.json (python -m fastslow.bench.trl_memory)."""

from __future__ import annotations

import json
from pathlib import Path


def trl_memory(results: Path) -> str:
    data = json.loads((results / "trl-memory.json").read_text())
    header = ("| micro-batch (rollouts) | accumulation steps | peak RSS, trainer built (MiB) | peak RSS after the step "
              "(MiB) | the step's increase (MiB) | step (s) |")
    rows = [header, "|---|---|---|---|---|---|"]
    for r in data["rows"]:
        whole = " (whole batch)" if r["micro_batch_size"] == r["rollouts_per_step"] else ""
        rows.append(f"| {r['micro_batch_size']}{whole} | {r['gradient_accumulation_steps']} | "
                    f"{r['peak_rss_built_mib']:.0f} | {r['peak_rss_step_mib']:.0f} | "
                    f"{r['step_rss_increase_mib']:.0f} | {r['step_seconds']:.1f} |")
    p = data["provenance"]
    cpu = p.get("cpu") or "?"
    rows.append("")
    rows.append(f"{data['model']}, {data['rollouts_per_step']} rollouts x {data['max_new_tokens']} new tokens per "
                f"step, {data['processes']} process on {data['device']} ({cpu}); command: `{p.get('command')}`. "
                "Peak RSS is the process's high-water mark, so the step's figure includes its generation (32 rollouts "
                "in one batch) as well as the learner; the step times were taken on a shared, heavily loaded 2-core "
                "machine and say nothing about speed.")
    return "\n".join(rows) + "\n"


BLOCKS = {"trl-memory": trl_memory}
