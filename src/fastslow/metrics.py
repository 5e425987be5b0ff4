"""One logging interface, several sinks: a JSONL file (always), and TensorBoard / Weights & Biases if asked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol


class Sink(Protocol):
    def write(self, step: int, metrics: dict) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """One JSON object per line. A new run starts the file afresh; a resumed run rewrites it up to its checkpoint
    (``rewrite``) and appends from there.

    Nothing is lost to a failed start (issue 20): the file is truncated at the first record written, not when the
    sink is made, so a ``--resume`` that stops before its first step (no checkpoint, a corrupted one, a reflector
    preflight that fails) leaves the old metrics as they were; ``rewrite`` replaces the file atomically (a temporary
    file renamed over it)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self.file = None

    def write(self, step: int, metrics: dict) -> None:
        if self.file is None:
            self.file = self.path.open("w")
        self.file.write(json.dumps({"step": step, **metrics}) + "\n")
        self.file.flush()

    def rewrite(self, records: list[dict]) -> None:
        """Replace the file's content (on resume: drop lines written after the checkpoint)."""
        if self.file is not None:
            self.file.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
        os.replace(tmp, self.path)
        self.file = self.path.open("a")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class TensorBoardSink:
    def __init__(self, log_dir: Path):
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self.writer = SummaryWriter(str(log_dir))

    def write(self, step: int, metrics: dict) -> None:
        for key, value in metrics.items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    def __init__(self, project: str, config: dict, run_dir: Path):
        import wandb

        self.run = wandb.init(project=project, config=config, dir=str(run_dir))

    def write(self, step: int, metrics: dict) -> None:
        self.run.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=step)

    def close(self) -> None:
        self.run.finish()


class MetricsLogger:
    def __init__(self, sinks: list[Sink]):
        self.sinks = sinks

    def log(self, step: int, metrics: dict) -> None:
        for sink in self.sinks:
            sink.write(step, metrics)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSONL file. A last line cut short (a process killed mid-write) is dropped; a bad line
    anywhere else is an error."""
    lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 1:
                raise
    return records
