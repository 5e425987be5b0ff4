"""``fst demo``: every headline setting (``experiments/settings.py``) through the suite, one folder each, and one
report that opens with both settings' findings. An overall progress bar counts the training runs of all settings."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path


def planned_runs(profile) -> int:
    """Training runs one setting makes (the progress bar's total)."""
    n = len(profile.seeds)
    per_seed = len(profile.methods)
    per_seed += 3 if "plasticity" in profile.experiments else 0
    per_seed += 2 if "continual" in profile.experiments else 0
    return n * per_seed


def run_demo(profile, out: Path, settings: list, log: Callable[[str], None] = print, progress: bool = True,
             command: str | None = None) -> dict:
    """Run each setting into ``out/<name>/`` and write ``out/report.html`` and ``out/report.json``. Returns the
    top-level record (each setting's summary under ``headlines``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fastslow.experiments.page import demo_page, single_page
    from fastslow.experiments.report import build, jsonable
    from fastslow.experiments.suite import Suite
    from fastslow.experiments.summary import rules_hash
    from fastslow.provenance import provenance

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started, cpu = time.time(), time.process_time()
    profiles = {s.name: s.apply(profile) for s in settings}
    total = sum(planned_runs(p) for p in profiles.values())
    parts, headlines = {}, {}
    with Progress(TextColumn("[bold]demo"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), disable=not progress) as bar:
        job = bar.add_task("demo", total=total, info="")
        done = {"n": 0}

        def on_run(label: str) -> None:
            if done["n"]:
                bar.advance(job)
            done["n"] += 1
            bar.update(job, info=label)

        for setting in settings:
            p = profiles[setting.name]
            folder = out / setting.name
            folder.mkdir(parents=True, exist_ok=True)
            log(f"[bold]setting {setting.name}[/]: task {p.task}{' (partial credit)' if p.partial_credit else ''}, "
                f"{len(p.seeds)} seeds, FST/GEPA {p.steps} steps, RL cap {p.rl_steps}, experiments "
                f"{', '.join(dict.fromkeys(('data_efficiency', 'drift', *p.experiments)))}")
            suite = Suite(p, folder, log=log, progress=False, setting=setting, on_run=on_run)
            results = suite.run()
            report = build(results, folder, command)
            (folder / "report.html").write_text(single_page(results, report, folder), encoding="utf-8")
            parts[setting.name] = (results, report, folder)
            headlines[setting.name] = {"folder": setting.name, "summary": report["summary"],
                                       "settings": report["settings"]}
        bar.update(job, completed=total, info="report")
    record = {"headlines": headlines, "wall_seconds": round(time.time() - started, 1),
              "cpu_seconds": round(time.process_time() - cpu, 1),
              "load_average_1min_at_end": round(os.getloadavg()[0], 2),
              "provenance": provenance(command, rules=rules_hash())}
    (out / "report.json").write_text(json.dumps(jsonable(record), indent=2, allow_nan=False))
    (out / "report.html").write_text(demo_page(parts), encoding="utf-8")
    return record
