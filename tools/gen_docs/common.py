"""Formatting helpers every docs block shares: read a results file, percent and mean ± std in the docs' style,
markdown tables."""

from __future__ import annotations

import json
from pathlib import Path

from fastslow.experiments.verdicts import fmt_ms


def _load(results: Path, name: str) -> dict:
    """A results file without its provenance record (blocks that iterate over a file's keys see only results;
    ``core.provenance_flags`` reads the record)."""
    data = json.loads((results / name).read_text())
    data.pop("provenance", None)
    return data


def _load_optional(results: Path, name: str) -> dict | None:
    """A results file with its provenance record (blocks that cite the commit read it), or None when the file
    does not exist yet (the block then says how to measure it)."""
    path = results / name
    return json.loads(path.read_text()) if path.is_file() else None


def _pct(v, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f} %"


def _ms(ms: dict | None, pct: bool = True, suffix: str = "") -> str:
    """The report's mean ± std in the docs' style: percent by default, "12.3 %", no seed count (tables say it)."""
    return fmt_ms(ms, pct, suffix, show_n=False, pct_sep=" ")


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _seeds(values, fmt) -> str:
    return " / ".join(fmt(v) for v in values)


def _range(values, fmt=str) -> str:
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


def _on_gpu(d: dict, backend: str = "") -> str:
    """What a ``src/fastslow/bench/gpu_speed.py`` result ran on, as the opening of its block."""
    return (f"On {d['device']} (torch {d['torch']}; {d['model']}, {d['parameters'] / 1e9:.2f}B parameters, "
            f"{d['dtype']}{backend}; CUDA synchronised at every clock read):\n\n")
