"""Joint, atomic checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint folder holds the policy weights (safetensors), the optimizer and scheduler state, and one pickle with
the rest: population, rollout cache, reflector state, data cursor, counters, RNG states and the metric history.
It is written under ``step-N.tmp`` and renamed to ``step-N`` only once complete, with a manifest of SHA-256 sums
written last; loading verifies the manifest, so a half-written or corrupted checkpoint is never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from fastslow.errors import FastSlowError

MANIFEST = "manifest.json"


class CheckpointError(FastSlowError):
    """A checkpoint is missing, incomplete or corrupted."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(root: Path, step: int, policy, tokenizer, optimizer, scheduler, state: dict, keep: int = 3) -> Path:
    root = Path(root)
    final, tmp = root / f"step-{step:07d}", root / f"step-{step:07d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    policy.save_pretrained(tmp / "policy")
    tokenizer.save_pretrained(tmp / "policy")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optim.pt")
    torch.save(state, tmp / "state.pt")
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    manifest = {"step": step, "files": {str(p.relative_to(tmp)): _sha256(p) for p in files}}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    with (tmp / MANIFEST).open() as f:
        os.fsync(f.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)  # atomic on POSIX: the folder appears complete or not at all
    for old in sorted(complete_checkpoints(root))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def complete_checkpoints(root: Path) -> list[Path]:
    """Finished checkpoint folders (``.tmp`` folders are ignored), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-")
                  and not p.name.endswith(".tmp"))


def verify(folder: Path) -> dict:
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise CheckpointError(f"checkpoint {folder} has no {MANIFEST}: it is incomplete; delete it to resume from "
                              "an earlier one")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"checkpoint {folder}: {MANIFEST} is corrupted ({err})") from None
    for rel, digest in manifest["files"].items():
        path = folder / rel
        if not path.is_file():
            raise CheckpointError(f"checkpoint {folder}: file {rel} is missing")
        if _sha256(path) != digest:
            raise CheckpointError(f"checkpoint {folder}: file {rel} is corrupted (checksum mismatch); delete the "
                                  "folder to resume from an earlier checkpoint")
    return manifest


def latest(root: Path) -> Path:
    found = complete_checkpoints(root)
    if not found:
        raise CheckpointError(f"no checkpoint to resume from in {root}")
    verify(found[-1])
    return found[-1]


def load_training_state(folder: Path) -> tuple[dict, dict]:
    """(optimizer/scheduler states, run state) from a verified checkpoint."""
    verify(folder)
    return (torch.load(folder / "optim.pt", weights_only=False), torch.load(folder / "state.pt", weights_only=False))
