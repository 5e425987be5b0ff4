"""Joint, atomic checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint folder holds the policy weights (safetensors; with LoRA only the adapter), the optimizer and scheduler
state, and one pickle with the rest: population, rollout cache, reflector state, data cursor, counters, RNG states
and the metric history. It is written under ``step-N.tmp`` and renamed to ``step-N`` only once complete, with a
manifest of SHA-256 sums written last; loading verifies the manifest, so a half-written or corrupted checkpoint is
never loaded.

Crash safety (issue 20; ``tests/test_checkpoint_crash.py`` kills the writer at random points and at every step of
``save``). Every file is fsynced before the rename and the folder after it, so the rename publishes complete data
even across a power loss. A folder is never deleted in place: a checkpoint being replaced or rotated out is first
renamed to ``step-N.del`` (atomic) and deleted after, so a kill mid-delete leaves a ``.del`` folder that no loader
looks at (the next save clears leftovers), never a half-deleted ``step-N`` that looks complete. A failed write (a
full disk: ENOSPC) removes its ``.tmp`` folder and raises ``CheckpointError`` naming the previous checkpoint, which
was not touched: the rotation of old checkpoints runs only after the new one is complete.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import torch

from fastslow.errors import FastSlowError

MANIFEST = "manifest.json"
_COMPLETE = re.compile(r"step-\d+")  # a published checkpoint; ``.tmp`` (being written) and ``.del`` are not


class CheckpointError(FastSlowError):
    """A checkpoint is missing, incomplete or corrupted."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(folder: Path) -> None:
    """Delete ``folder`` without ever leaving it half-deleted under its own name (rename first, then delete)."""
    if folder.exists():
        trash = folder.with_name(folder.name + ".del")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)


def save(root: Path, step: int, policy, tokenizer, optimizer, scheduler, state: dict, keep: int = 3) -> Path:
    root = Path(root)
    final, tmp = root / f"step-{step:07d}", root / f"step-{step:07d}.tmp"
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob("step-*.*"):  # .tmp / .del folders of a writer that was killed
        if leftover.is_dir() and leftover.suffix in (".tmp", ".del"):
            shutil.rmtree(leftover, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        policy.save_pretrained(tmp / "policy")
        tokenizer.save_pretrained(tmp / "policy")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optim.pt")
        torch.save(state, tmp / "state.pt")
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {"step": step, "files": {str(p.relative_to(tmp)): _sha256(p) for p in files}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        for path in [*files, tmp / MANIFEST]:
            _fsync(path)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        found = complete_checkpoints(root)
        previous = f"the previous checkpoint {found[-1]} is intact" if found else "no earlier checkpoint exists"
        full = " (the disk is full)" if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        raise CheckpointError(f"could not write checkpoint step {step} to {root}: {err.strerror or err}{full}; "
                              f"{previous}. Free space and continue with fst run --resume.") from err
    _discard(final)  # only when re-saving a step: rename away, never delete in place
    os.replace(tmp, final)  # atomic on POSIX: the folder appears complete or not at all
    _fsync(root)
    for old in complete_checkpoints(root)[:-keep] if keep > 0 else []:
        _discard(old)
    return final


def complete_checkpoints(root: Path) -> list[Path]:
    """Published checkpoint folders (``.tmp`` and ``.del`` folders are ignored), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _COMPLETE.fullmatch(p.name))


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


def restore_policy(folder: Path, policy) -> None:
    """Load a checkpoint's saved policy (``folder/policy``) into the live ``policy``, in place and exactly: the
    adapter weights of a LoRA (peft) policy, or every weight of a full model."""
    from fastslow.model.lora import is_peft

    saved = Path(folder) / "policy"
    if is_peft(policy):
        from peft.utils import set_peft_model_state_dict
        from safetensors.torch import load_file

        adapter = saved / "adapter_model.safetensors"
        if not adapter.is_file():
            raise CheckpointError(f"checkpoint {folder} holds no LoRA adapter (adapter_model.safetensors), but this "
                                  "run's policy has one; was it written by a run without model.lora?")
        result = set_peft_model_state_dict(policy, load_file(adapter))
        unexpected = getattr(result, "unexpected_keys", None) or []
        if unexpected:
            raise CheckpointError(f"checkpoint {folder}: adapter weights do not fit this model ({unexpected[:3]})")
        return
    if (saved / "adapter_config.json").is_file():
        raise CheckpointError(f"checkpoint {folder} holds a LoRA adapter, but this run's policy has no model.lora")
    from fastslow.model.loading import load_pretrained

    dtype = {"torch.bfloat16": "bf16", "torch.float16": "fp16"}.get(str(next(policy.parameters()).dtype), "fp32")
    policy.load_state_dict(load_pretrained(saved, dtype)[0].state_dict())


def export_policy(policy, tokenizer, out: Path, how: str = "merged") -> Path:
    """The final model folder. A LoRA policy is exported ``merged`` (``merge_and_unload`` on a copy: a plain,
    full Hugging Face folder) or as the ``adapter`` alone (loadable with peft, or by fastslow as ``model:``, which
    merges it into the base named in adapter_config.json); a full policy is saved as it is."""
    import copy

    from fastslow.model.lora import is_peft

    out = Path(out)
    if is_peft(policy) and how == "merged":
        was_training = policy.training
        merged = copy.deepcopy(policy).merge_and_unload()
        policy.train(was_training)
        merged.save_pretrained(out)
        del merged
    else:
        policy.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def load_training_state(folder: Path) -> tuple[dict, dict]:
    """(optimizer/scheduler states, run state) from a verified checkpoint."""
    verify(folder)
    return (torch.load(folder / "optim.pt", weights_only=False), torch.load(folder / "state.pt", weights_only=False))
