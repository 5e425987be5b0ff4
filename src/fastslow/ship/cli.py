"""``fst distill`` and ``fst export``: turning a finished run into a model to ship (their own module, so the main
command line stays small). ``fastslow.cli`` registers them on the ``fst`` app; nothing here imports that module at
import time, so ``python -m fastslow.cli`` works as well as the ``fst`` entry point."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()
ThreadsOpt = typer.Option(1, "--threads", help="torch threads (1 is fastest on a loaded 2-core machine)")


def _setup(threads: int) -> None:
    from fastslow.cli import _setup as setup

    setup(threads)


def distill_cmd(
    run: Path = typer.Argument(..., help="a finished run folder (the output_dir of `fst run`)"),
    out: Optional[Path] = typer.Option(None, help="output model folder (default: RUN/distilled)"),
    steps: int = typer.Option(60, min=1, help="most distillation steps"),
    lr: Optional[float] = typer.Option(None, help="learning rate (default: the run's learner.lr)"),
    student: str = typer.Option("none", help="the student's context: none (no system prompt) or seed"),
    teacher: str = typer.Option("lead", help="the teacher's context: lead or population (each prompt in turn)"),
    kl_target: Optional[float] = typer.Option(None, help="stop once a step's token-mean KL is below this"),
    eval_problems: Optional[int] = typer.Option(None, help="validation problems (default: the run's eval.problems)"),
    forgetting_problems: int = typer.Option(150, help="instruction-following suite problems (0 = skip)"),
    threads: int = ThreadsOpt,
) -> None:
    """Bake a finished FST run's lead prompt into its weights (reverse-KL self-distillation, as mode fst-distill),
    and report accuracy without the prompt and on the forgetting suite, before and after."""
    _setup(threads)
    from fastslow.ship.distill import distill_run

    if student not in ("none", "seed") or teacher not in ("lead", "population"):
        raise typer.BadParameter("--student is none or seed; --teacher is lead or population")
    report = distill_run(run, out or run / "distilled", steps, lr, student, teacher, kl_target, eval_problems,
                         forgetting_problems, log=console.print)
    table = Table("", "before", "after", title=f"fst distill ({report['steps']} steps)")
    for key in report["before"]:
        table.add_row(key, f"{report['before'][key]:.3f}", f"{report['after'][key]:.3f}")
    console.print(table)
    console.print(f"weights in {out or run / 'distilled'} (report: distill.json); ship them with "
                  f"fst export {run} --weights {out or run / 'distilled'} --out DIR")


def export_cmd(
    run: Path = typer.Argument(..., help="a finished run folder (the output_dir of `fst run`)"),
    out: Path = typer.Option(..., help="output folder (a Hugging Face model folder)"),
    adapter: bool = typer.Option(False, "--adapter", help="the LoRA adapter alone (the run must have saved one)"),
    weights: Optional[Path] = typer.Option(None, help="weights to ship instead of RUN/final (e.g. fst distill's)"),
    eval_problems: int = typer.Option(32, help="validation problems per prompt for the population scores (0: none)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty output folder"),
    threads: int = ThreadsOpt,
) -> None:
    """A model folder that behaves as trained: merged weights (or --adapter), a chat template whose default system
    message is the lead prompt, fastslow_population.json and a generated model card; no fastslow needed to load."""
    _setup(threads)
    from fastslow.ship.export import export_run

    export_run(run, out, adapter, weights, eval_problems, " ".join(["fst", *sys.argv[1:]]), overwrite)
    console.print(f"exported {run} to {out}: load it with AutoModelForCausalLM / AutoTokenizer, or `vllm serve {out}`")
