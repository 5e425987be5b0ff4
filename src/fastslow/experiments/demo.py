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


def _run_setting(profile, setting, folder: Path, command, log, on_run) -> tuple[dict, dict]:
    from fastslow.experiments.page import single_page
    from fastslow.experiments.report import build
    from fastslow.experiments.suite import Suite

    folder.mkdir(parents=True, exist_ok=True)
    log(f"[bold]setting {setting.name}[/]: task {profile.task}{' (partial credit)' if profile.partial_credit else ''}"
        f", {len(profile.seeds)} seeds, FST/GEPA {profile.steps} steps, RL cap {profile.rl_steps}, experiments "
        f"{', '.join(dict.fromkeys(('data_efficiency', 'drift', *profile.experiments)))}")
    results = Suite(profile, folder, log=log, progress=False, setting=setting, on_run=on_run).run()
    report = build(results, folder, command)
    (folder / "report.html").write_text(single_page(results, report, folder), encoding="utf-8")
    return results, report


def _worker(profile, setting, folder: Path, command, queue) -> tuple[dict, dict, float]:
    """One setting in its own process (``jobs`` > 1): single-threaded torch, log lines and run starts sent back."""
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(1)
    hf_logging.disable_progress_bar()  # as the CLI's own setup does
    cpu = time.process_time()
    results, report = _run_setting(profile, setting, folder, command, lambda m: queue.put(("log", m)),
                                   lambda label: queue.put(("run", label)))
    return results, report, time.process_time() - cpu


def run_demo(profile, out: Path, settings: list, log: Callable[[str], None] = print, progress: bool = True,
             command: str | None = None, jobs: int = 1) -> dict:
    """Run each setting into ``out/<name>/`` (``jobs`` settings at a time, each single-threaded in its own process
    when > 1) and write ``out/report.html`` and ``out/report.json``. Returns the top-level record (each setting's
    summary under ``headlines``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fastslow.experiments.page import demo_page
    from fastslow.experiments.report import jsonable
    from fastslow.experiments.summary import rules_hash
    from fastslow.provenance import provenance

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started, cpu = time.time(), time.process_time()
    profiles = {s.name: s.apply(profile) for s in settings}
    total = sum(planned_runs(p) for p in profiles.values())
    got, worker_cpu = {}, 0.0
    with Progress(TextColumn("[bold]demo"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), disable=not progress) as bar:
        job = bar.add_task("demo", total=total, info="")
        done = {"n": 0}

        def on_run(label: str) -> None:
            if done["n"]:
                bar.advance(job)
            done["n"] += 1
            bar.update(job, info=label)

        if jobs <= 1:
            for setting in settings:
                got[setting.name] = _run_setting(profiles[setting.name], setting, out / setting.name, command, log,
                                                 on_run)
        else:
            worker_cpu = _parallel(profiles, settings, out, command, jobs, log, on_run, got)
        bar.update(job, completed=total, info="report")
    parts = {s.name: (*got[s.name], out / s.name) for s in settings}
    headlines = {name: {"folder": name, "summary": rep["summary"], "settings": rep["settings"]}
                 for name, (_, rep, _) in parts.items()}
    record = {"headlines": headlines, "wall_seconds": round(time.time() - started, 1),
              "cpu_seconds": round(time.process_time() - cpu + worker_cpu, 1), "jobs": jobs,
              "load_average_1min_at_end": round(os.getloadavg()[0], 2),
              "provenance": provenance(command, rules=rules_hash())}
    (out / "report.json").write_text(json.dumps(jsonable(record), indent=2, allow_nan=False))
    (out / "report.html").write_text(demo_page(parts), encoding="utf-8")
    return record


def _parallel(profiles, settings, out, command, jobs, log, on_run, got) -> float:
    """Settings in ``jobs`` spawned processes; their log lines and run starts are relayed here. Returns their CPU
    seconds."""
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")  # a fresh interpreter per worker: no torch state shared through fork
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        q = manager.Queue()
        futures = {s.name: pool.submit(_worker, profiles[s.name], s, out / s.name, command, q) for s in settings}
        while True:
            try:
                kind, msg = q.get(timeout=0.5)
                (log if kind == "log" else on_run)(msg)
            except queue_mod.Empty:
                if all(f.done() for f in futures.values()):
                    break
        cpu = 0.0
        for name, f in futures.items():
            results, report, seconds = f.result()
            got[name], cpu = (results, report), cpu + seconds
    return cpu
