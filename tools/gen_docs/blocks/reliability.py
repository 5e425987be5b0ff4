"""Issue 20's evidence in docs/BENCHMARKS.md: the fault table (docs/results/faults.json, ``fastslow.bench.faults``) and the
soak run (docs/results/soak.json, ``fastslow.bench.soak``)."""

from __future__ import annotations

import json
from pathlib import Path


def _yes(value) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}.get(value, str(value))


def _cell(text: str, limit: int = 150) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _commit(data: dict) -> str:
    prov = data.get("provenance", {})
    dirty = " (dirty tree)" if prov.get("dirty") else ""
    return f"commit `{str(prov.get('commit'))[:10]}`{dirty}, {prov.get('cpu', '?')}, command `{prov.get('command')}`"


def render_faults(results: Path) -> str:
    data = json.loads((Path(results) / "faults.json").read_text())
    lines = ["| fault | injected | stopped | clear message | survived | data lost | bitwise = uninterrupted | "
             "what the run said |", "|---|---|---|---|---|---|---|---|"]
    for row in data["faults"]:
        stopped = "yes" if row["stopped"] else "no, went on"  # either is fine: a fault must not go unnoticed
        lines.append(f"| {row['fault']} | {_cell(row['injected'], 60)} | {stopped} | "
                     f"{_yes(row['clear_message'])} | {_yes(row['survived'])} | {row['data_lost']} | "
                     f"{_yes(row['identical'])} | {_cell(row['message'])} |")
    lost = sum(row["data_lost"] or 0 for row in data["faults"])
    survived = sum(bool(row["survived"]) for row in data["faults"])
    lines += ["", f"{len(data['faults'])} faults, {survived} survived, data lost in total: {lost}. "
              f"{data['steps']} steps each on {data['model']}; {data['seconds']} s in all. {_commit(data)}."]
    return "\n".join(lines) + "\n"


SOAKS = ("soak.json", "soak-final-code.json")  # the long run, and a shorter one on the final code


def render_soak(results: Path) -> str:
    lines = ["| file | mode | steps | RSS after warm-up | RSS at end | growth | limit | max RSS after warm-up | "
             "checkpoints kept (max seen / keep) | checkpoint folder (max) | time | memory | folder bounded |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for name in SOAKS:
        path = Path(results) / name
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        lines.append(
            f"| `{name}` | {data['mode']} | {data['steps']} | {data['rss_mib_after_warmup']} MiB | "
            f"{data['rss_mib_end']} MiB | {data['growth_after_warmup']:+.2%} | <= {data['growth_limit']:.0%} | "
            f"{data['rss_mib_max_after_warmup']} MiB | {data['max_checkpoints_seen']} / {data['checkpoint_keep']} | "
            f"{data['max_checkpoint_folder_mib']} MiB | {data['seconds'] / 60:.0f} min | "
            f"{'met' if data['rss_ok'] else '**not met**'} | {'yes' if data['checkpoints_bounded'] else '**no**'} |")
        notes.append(f"`{name}`: warm-up the first {data['warmup_steps']} steps, RSS medians over "
                     f"{data['window_steps']}-step windows; {_commit(data)}.")
    return "\n".join(lines + [""] + notes) + "\n"


BLOCKS = {"faults": render_faults, "soak": render_soak}
