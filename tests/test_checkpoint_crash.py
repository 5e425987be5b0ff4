"""Issue 20, item 3: crash-safe checkpoints, proven.

* A child process trains and checkpoints after every step; it is SIGKILLed at a random moment *inside* a
  checkpoint write (a timer started as a random save begins, firing within that save's typical duration), or at
  an injected point of ``checkpoint.save`` (every step of it: before and after each file, between the folder
  renames, in the rotation of old checkpoints). After every kill: 0 corrupt checkpoints (every published one
  verifies), and resuming from the latest one reproduces the uninterrupted run bitwise (same machine).
* A full disk (ENOSPC) during a save: a clear ``CheckpointError``, no ``.tmp`` left, the previous checkpoint intact
  and resumable.
* An engine that dies mid-GEPA-round, and a reflector that crashes mid-round: the run stops with a message naming
  the last checkpoint, which resumes to the uninterrupted result.
"""

import errno
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from helpers import HintReflector

from fastslow import checkpoint
from fastslow.checkpoint import CheckpointError, complete_checkpoints, verify
from fastslow.config import parse_config
from fastslow.fastweights.reflectors.base import ReflectorError
from fastslow.fork_safety import isolate_child
from fastslow.metrics import read_jsonl
from fastslow.sampling import SamplerError
from fastslow.sampling.hf import HFSampler
from fastslow.trainer import Trainer

STEPS = 4


def config(model_dir, out, mode="rl", steps=STEPS, every=1):
    data = {"mode": mode, "model": str(model_dir), "output_dir": str(out), "steps": steps, "seed": 2,
            "task": {"name": "tidy", "partial_credit": True},
            "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
            "eval": {"every": 100, "problems": 2, "k": 1, "kl_problems": 0},
            "checkpoint": {"every": every, "keep": 2}}
    if mode == "fst":
        data["population"] = {"size": 2, "cycle_steps": 2, "anchor_size": 4, "budget": 8, "minibatch_size": 2}
    return parse_config(data)


def weights(out):
    from safetensors.torch import load_file

    return load_file(out / "final" / "model.safetensors")


def comparable(records):
    return [{k: v for k, v in r.items() if not k.startswith("time")} for r in records]


def same_as(out, ref):
    ours = weights(out)
    assert ours.keys() == ref["weights"].keys()
    for name in ours:
        assert torch.equal(ours[name], ref["weights"][name]), name  # bitwise
    assert comparable(read_jsonl(out / "metrics.jsonl")) == comparable(ref["metrics"])


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    durations = []
    original = checkpoint.save

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            durations.append(time.perf_counter() - start)

    checkpoint.save = timed
    try:
        Trainer(config(tiny_model_dir, out)).run(progress=False)
    finally:
        checkpoint.save = original
    return {"weights": weights(out), "metrics": read_jsonl(out / "metrics.jsonl"),
            "save_s": sorted(durations)[len(durations) // 2]}


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def run_child(cfg, arm) -> int:
    """Fork; the child arms its kill (``arm()``), trains, and exits 0 if it was not killed. Returns the status."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            isolate_child()
            arm()
            Trainer(cfg).run(progress=False)
        except BaseException:  # noqa: BLE001
            os._exit(3)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status


def check_and_resume(cfg, out, ref) -> None:
    """0 corrupt checkpoints; then resume from the latest (or start afresh if none was published) and compare."""
    root = out / "checkpoints"
    for folder in complete_checkpoints(root):
        verify(folder)  # raises on a corrupt or incomplete published checkpoint
    trainer = Trainer(cfg)
    if complete_checkpoints(root):
        trainer.resume()
    trainer.run(progress=False)
    same_as(out, ref)
    # what a killed writer leaves besides published checkpoints is only .tmp / .del folders, which no loader reads
    # (the next save clears them)
    assert all(p.suffix in (".tmp", ".del") for p in root.iterdir() if not checkpoint._COMPLETE.fullmatch(p.name))


def kill_inside_a_save(save_number: int, delay: float):
    """Arm: SIGKILL ``delay`` seconds after save number ``save_number`` starts (inside the write, at a random
    point of it)."""

    def arm():
        original, calls = checkpoint.save, []

        def save(*args, **kwargs):
            calls.append(1)
            if len(calls) == save_number:
                threading.Timer(delay, die).start()
                result = original(*args, **kwargs)
                time.sleep(10)  # the kill lands while this save runs, or just after it: never let the run go on
                return result
            return original(*args, **kwargs)

        checkpoint.save = save

    return arm


def random_trials(n, seed, save_s):
    rng = random.Random(seed)
    return [(rng.randint(1, STEPS), rng.uniform(0.0, 1.2 * save_s)) for _ in range(n)]


def test_sigkill_at_random_points_during_checkpoint_writes(tiny_model_dir, tmp_path, reference):
    trials = random_trials(20, 0, reference["save_s"])
    for i, (save_number, delay) in enumerate(trials):
        out = tmp_path / f"t{i}"
        cfg = config(tiny_model_dir, out)
        status = run_child(cfg, kill_inside_a_save(save_number, delay))
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (i, status)
        check_and_resume(cfg, out, reference)


# Injected points: the n-th call of each low-level step of checkpoint.save kills the writer right there.
POINTS = [("torch.save", 1), ("torch.save", 2), ("_sha256", 1), ("_fsync", 1), ("_fsync", -1), ("os.replace", 1),
          ("os.replace", 2), ("shutil.rmtree", 1), ("shutil.rmtree", 2)]


def kill_at_point(name: str, nth: int, save_number: int):
    def arm():
        saves = []
        original_save = checkpoint.save

        def counting_save(*args, **kwargs):
            saves.append(1)
            return original_save(*args, **kwargs)

        checkpoint.save = counting_save
        owner, attr = {"torch.save": (checkpoint.torch, "save"), "os.replace": (checkpoint.os, "replace"),
                       "shutil.rmtree": (checkpoint.shutil, "rmtree")}.get(name, (checkpoint, name))
        original, calls = getattr(owner, attr), []

        def wrapped(*args, **kwargs):
            if len(saves) == save_number:
                calls.append(1)
                if len(calls) == nth or nth == -1 and attr == "_fsync" and str(args[0]).endswith("checkpoints"):
                    if attr == "rmtree":  # die in the middle of a delete: one file gone, the rest still there
                        files = sorted(p for p in Path(args[0]).rglob("*") if p.is_file())
                        if files:
                            files[0].unlink()
                    die()
            return original(*args, **kwargs)

        setattr(owner, attr, wrapped)

    return arm


@pytest.mark.parametrize("name, nth", POINTS)
def test_sigkill_at_each_step_of_a_save(tiny_model_dir, tmp_path, reference, name, nth):
    out = tmp_path / "out"
    cfg = config(tiny_model_dir, out)
    status = run_child(cfg, kill_at_point(name, nth, save_number=3))  # the rotation has old ones to delete by then
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    check_and_resume(cfg, out, reference)


@pytest.mark.slow
def test_sigkill_at_random_points_many_trials(tiny_model_dir, tmp_path, reference):
    for i, (save_number, delay) in enumerate(random_trials(100, 1, reference["save_s"])):
        out = tmp_path / f"t{i}"
        cfg = config(tiny_model_dir, out)
        status = run_child(cfg, kill_inside_a_save(save_number, delay))
        assert os.WIFSIGNALED(status), (i, status)
        check_and_resume(cfg, out, reference)


def test_full_disk_during_a_save(tiny_model_dir, tmp_path, reference, monkeypatch):
    out = tmp_path / "out"
    cfg = config(tiny_model_dir, out)
    original, calls = checkpoint.torch.save, []

    def full_disk(obj, path, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # the 3rd save's optimizer file
            with open(path, "wb") as f:
                f.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return original(obj, path, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(CheckpointError) as err:
        Trainer(cfg).run(progress=False)
    text = str(err.value)
    assert "could not write checkpoint step 3" in text and "disk is full" in text
    assert "step-0000002 is intact" in text and "fst run --resume" in text
    monkeypatch.setattr(checkpoint.torch, "save", original)
    root = out / "checkpoints"
    assert [p.name for p in root.iterdir()] == ["step-0000001", "step-0000002"] or sorted(
        p.name for p in root.iterdir()) == ["step-0000001", "step-0000002"]
    check_and_resume(cfg, out, reference)


# -- engine death and reflector crash mid-round (fst) --------------------------------------------------------------

@pytest.fixture(scope="module")
def fst_reference(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("fst-uninterrupted")
    Trainer(config(tiny_model_dir, out, mode="fst", steps=6, every=2), reflector=HintReflector()).run(progress=False)
    return {"weights": weights(out), "metrics": read_jsonl(out / "metrics.jsonl")}


def resume_fst(cfg, out, ref):
    trainer = Trainer(cfg, reflector=HintReflector())
    assert trainer.resume() == 4
    trainer.run(progress=False)
    same_as(out, ref)


def test_engine_death_mid_round_leaves_a_resumable_run(tiny_model_dir, tmp_path, fst_reference, monkeypatch):
    out = tmp_path / "out"
    cfg = config(tiny_model_dir, out, mode="fst", steps=6, every=2)
    trainer = Trainer(cfg, reflector=HintReflector())
    original = HFSampler.sample_ids

    def dying(self, *args, **kwargs):
        if trainer.step == 4 and trainer.counts["gepa_rounds"] == 2:  # inside the third round, after checkpoint 4
            raise SamplerError("vLLM engine died (EngineDeadError)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HFSampler, "sample_ids", dying)
    with pytest.raises(SamplerError, match=r"engine died.*stopped at step 4.*step-0000004.*--resume"):
        trainer.run(progress=False)
    monkeypatch.setattr(HFSampler, "sample_ids", original)
    resume_fst(cfg, out, fst_reference)


def test_reflector_crash_mid_round_leaves_a_resumable_run(tiny_model_dir, tmp_path, fst_reference):
    class Crashing(HintReflector):
        def propose(self, current, examples):
            if trainer.step == 4:
                raise ReflectorError("reflector crashed: litellm vanished")
            return super().propose(current, examples)

    out = tmp_path / "out"
    cfg = config(tiny_model_dir, out, mode="fst", steps=6, every=2)
    trainer = Trainer(cfg, reflector=Crashing())
    with pytest.raises(ReflectorError, match=r"crashed.*stopped at step 4.*step-0000004.*fix the reflector"):
        trainer.run(progress=False)
    resume_fst(cfg, out, fst_reference)


def test_a_failed_resume_keeps_the_metrics_file(tiny_model_dir, tmp_path):
    """The metrics file is truncated at the first record of a run, not when the run object is made: a ``--resume``
    that fails (here: a corrupted checkpoint) loses nothing."""
    cfg = config(tiny_model_dir, tmp_path, steps=2)
    Trainer(cfg).run(progress=False)
    before = (tmp_path / "metrics.jsonl").read_text()
    state = complete_checkpoints(tmp_path / "checkpoints")[-1] / "state.pt"
    state.write_bytes(state.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="corrupted"):
        Trainer(cfg).resume()
    assert (tmp_path / "metrics.jsonl").read_text() == before
