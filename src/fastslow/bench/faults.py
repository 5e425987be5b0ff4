"""Fault table (issue 20): every fault a long run meets, injected into a small real run; writes
docs/results/faults.json (rendered in docs/BENCHMARKS.md by tools/gen_docs/blocks/reliability.py).

    python -m fastslow.bench.faults --json docs/results/faults.json

For each fault: inject it, let the run react (go on, or stop), remove the fault, ``--resume`` if it stopped, and
run to the end. Recorded per fault:

* ``stopped``: the run stopped (``False``: it went on through the fault); ``message``: what it said;
* ``clear_message``: the stop was a fastslow error (no traceback) whose message names the culprit (the words in
  ``expect``), or, for a fault the run goes on through, the reason was logged / counted in the metrics;
* ``survived``: after the fault was removed the run reached its last step (resuming from its last checkpoint when
  it had stopped);
* ``data_lost``: published checkpoints lost or corrupt at the stop, plus metric records held by the last checkpoint
  that the finished run no longer has (must be 0; records logged after that checkpoint are redone on resume);
* ``identical``: where the fault leaves the run's inputs unchanged
  (a kill, a full disk, an engine death), the finished run equals an uninterrupted one bitwise (weights) and
  record for record (metrics), same machine.

The reflector faults use a stub OpenAI-compatible server on 127.0.0.1 (``tests/stub_llm.py``, bounded requests); the
engine death is the sampler raising ``SamplerError`` mid-GEPA-round, as the vLLM backend does when its engine dies.
The policy is a tiny random model (the faults are in the plumbing, not the weights), so the table takes minutes.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))  # the stub server and the hint reflector are shared with the tests
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from helpers import HintReflector  # noqa: E402
from stub_llm import StubLLM, no_proxy  # noqa: E402

from fastslow import checkpoint  # noqa: E402
from fastslow.checkpoint import complete_checkpoints, verify  # noqa: E402
from fastslow.config import parse_config  # noqa: E402
from fastslow.errors import FastSlowError  # noqa: E402
from fastslow.metrics import read_jsonl  # noqa: E402
from fastslow.model.pretrain import save_tiny_model  # noqa: E402
from fastslow.provenance import provenance  # noqa: E402
from fastslow.sampling.hf import HFSampler  # noqa: E402
from fastslow.trainer import Trainer  # noqa: E402

STEPS = 6


def config(model: Path, out: Path, mode: str = "fst", reflector: dict | None = None, task: dict | None = None):
    data = {"mode": mode, "model": str(model), "output_dir": str(out), "steps": STEPS, "seed": 4,
            "task": task or {"name": "tidy", "partial_credit": True},
            "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
            "eval": {"every": 2, "problems": 2, "k": 1, "kl_problems": 0},
            "checkpoint": {"every": 2, "keep": 3}}
    if mode == "fst":
        data["population"] = {"size": 2, "cycle_steps": 2, "anchor_size": 4, "budget": 8, "minibatch_size": 2,
                              "max_failed_rounds": 2, **({"reflector": reflector} if reflector else {})}
    return parse_config(data)


def comparable(records):
    return [{k: v for k, v in r.items() if not k.startswith("time")} for r in records]


def weights(out: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(out / "final" / "model.safetensors")


class Outcome:
    """What one fault did: fills a row of the table."""

    def __init__(self, name: str, injected: str, expect: tuple[str, ...]):
        self.row = {"fault": name, "injected": injected, "stopped": False, "message": "", "clear_message": False,
                    "survived": False, "data_lost": None, "identical": None}
        self.expect = expect
        self.before: dict = {}

    def stopped(self, err: BaseException, out: Path) -> None:
        text = str(err)
        self.row.update(stopped=True, message=text[:400],
                        clear_message=isinstance(err, FastSlowError) and all(w in text for w in self.expect))
        self.snapshot(out)

    def went_on(self, out: Path, evidence: str) -> None:
        self.row.update(message=evidence[:400], clear_message=all(w in evidence for w in self.expect))
        self.snapshot(out)

    def snapshot(self, out: Path) -> None:
        root = out / "checkpoints"
        published = complete_checkpoints(root)
        corrupt = 0
        for folder in published:
            try:
                verify(folder)
            except checkpoint.CheckpointError:
                corrupt += 1
        last = int(published[-1].name.split("-")[1]) if published else -1
        # what the last checkpoint published: its metric history (records logged after it, such as the GEPA
        # round that failed right after it was saved, are redone by the resumed run, not lost)
        history = torch.load(published[-1] / "state.pt", weights_only=False)["history"] if published else []
        self.before = {"names": [p.name for p in published], "corrupt": corrupt, "last": last,
                       "rows": comparable(history)}

    def finished(self, out: Path, reference: dict | None = None) -> dict:
        metrics = read_jsonl(out / "metrics.jsonl")
        self.row["survived"] = (out / "final" / "model.safetensors").is_file() and max(
            r["step"] for r in metrics) == STEPS
        if self.before:
            kept = comparable([r for r in metrics if r["step"] <= self.before["last"]])
            lost_rows = sum(r not in kept for r in self.before["rows"])
            self.row["data_lost"] = self.before["corrupt"] + lost_rows
        else:
            self.row["data_lost"] = 0
        if reference is not None:
            ours = weights(out)
            self.row["identical"] = bool(comparable(metrics) == comparable(reference["metrics"]) and all(
                torch.equal(ours[k], reference["weights"][k]) for k in reference["weights"]))
        return self.row


def resume(cfg, **kwargs) -> None:
    trainer = Trainer(cfg, **kwargs)
    if complete_checkpoints(cfg.output_dir / "checkpoints"):
        trainer.resume()
    trainer.run(progress=False)


# -- the faults --------------------------------------------------------------------------------------------------

def reflector_fault(model, tmp, mode: str, at_start: bool, expect: tuple[str, ...]) -> dict:
    """The stub answers the preflight, then (``at_start=False``) switches to ``mode`` for the run; or fails from the
    first call (``at_start=True``). After the stop, the stub works again and the run resumes."""
    name = {"401": "reflector 401 (bad API key)", "500": "reflector 500 (server error)",
            "timeout": "reflector timeout", "garbage": "reflector answers garbage (not JSON)",
            "unclosed": "reflector answer with an unclosed fence"}[mode]
    out = tmp / f"reflector-{mode}"
    o = Outcome(name, "at start (preflight)" if at_start else "from the first GEPA round on", expect)
    with StubLLM("ok", max_requests=400, hang_s=1.5) as stub:
        reflector = {"kind": "llm", "model": "hosted_vllm/stub", "api_base": stub.api_base, "timeout": 0.5,
                     "retries": 1, "backoff": 0.05}
        cfg = config(model, out, reflector=reflector)
        try:
            stub.mode = mode if at_start else "ok"
            trainer = Trainer(cfg)
            stub.mode = mode
            trainer.run(progress=False)
        except Exception as err:  # noqa: BLE001 - what the run raised is the measurement
            o.stopped(err, out)
        stub.mode = "ok"
        resume(cfg)
        o.row["requests"] = len(stub.requests)
    return o.finished(out)


def missing_litellm(model, tmp) -> dict:
    out = tmp / "no-litellm"
    o = Outcome("litellm not installed", "at start", ("litellm", "pip install"))
    with StubLLM("ok") as stub:
        cfg = config(model, out, reflector={"kind": "llm", "model": "hosted_vllm/stub", "api_base": stub.api_base})
        saved = sys.modules.get("litellm")
        sys.modules["litellm"] = None  # import litellm raises ImportError
        try:
            Trainer(cfg).run(progress=False)
        except Exception as err:  # noqa: BLE001
            o.stopped(err, out)
        finally:
            sys.modules["litellm"] = saved
        resume(cfg)
    return o.finished(out)


def kill_during_save(model, tmp, reference, trials: int = 5) -> dict:
    """SIGKILL a forked run at a random point inside its checkpoint writes; resume; repeat ``trials`` times."""
    import random

    rng = random.Random(0)
    o = Outcome("SIGKILL during a checkpoint write", f"{trials} trials at random points inside a save", ())
    rows = []
    for i in range(trials):
        out = tmp / f"kill-{i}"
        cfg = config(model, out, mode="rl")
        save_number, delay = rng.randint(1, STEPS // 2), rng.uniform(0, 0.1)
        pid = os.fork()
        if pid == 0:  # the child: its closure's variables are fixed for the rest of its life (it never loops on)
            from fastslow.fork_safety import isolate_child

            isolate_child()
            original = checkpoint.save
            calls = []

            def save(*args, **kwargs):  # noqa: B023
                calls.append(1)
                if len(calls) == save_number:
                    threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
                    original(*args, **kwargs)
                    time.sleep(10)
                return original(*args, **kwargs)

            checkpoint.save = save
            try:
                Trainer(cfg).run(progress=False)
            finally:
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status)
        t = Outcome("", "", ())
        t.went_on(out, "")
        resume(cfg)
        rows.append({"killed": killed, **{k: t.finished(out, reference)[k] for k in ("survived", "data_lost",
                                                                                       "identical")}})
    o.row.update(stopped=all(r["killed"] for r in rows), message=f"{sum(r['killed'] for r in rows)} of {trials} "
                 "runs killed inside a save; every published checkpoint verified; resumed with fst run --resume",
                 clear_message=True, survived=all(r["survived"] for r in rows),
                 data_lost=sum(r["data_lost"] for r in rows), identical=all(r["identical"] for r in rows),
                 trials=rows)
    return o.row


def full_disk(model, tmp, reference) -> dict:
    out = tmp / "enospc"
    cfg = config(model, out, mode="rl")
    o = Outcome("disk full (ENOSPC) during a save", "the 2nd checkpoint's optimizer file", ("disk is full",
                                                                                            "is intact"))
    original, calls = checkpoint.torch.save, []

    def save(obj, path, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            Path(path).write_bytes(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return original(obj, path, *args, **kwargs)

    checkpoint.torch.save = save
    try:
        Trainer(cfg).run(progress=False)
    except Exception as err:  # noqa: BLE001
        o.stopped(err, out)
    finally:
        checkpoint.torch.save = original
    resume(cfg)
    return o.finished(out, reference)


def engine_death(model, tmp, reference) -> dict:
    out = tmp / "engine-death"
    cfg = config(model, out, reflector=None)
    o = Outcome("generation engine dies mid-GEPA-round (vLLM EngineDeadError)", "the 2nd round's sampling",
                ("engine", "--resume"))
    trainer = Trainer(cfg, reflector=HintReflector())
    original = HFSampler.sample_ids

    def dying(self, *args, **kwargs):
        # inside round 2 (cycle 1): after checkpoint 2 was written (the evaluation at step 2 comes before it)
        if trainer.counts["gepa_rounds"] == 1 and (out / "checkpoints" / "step-0000002").is_dir():
            from fastslow.sampling import SamplerError

            raise SamplerError("vllm engine died: EngineDeadError (simulated)")
        return original(self, *args, **kwargs)

    HFSampler.sample_ids = dying
    try:
        trainer.run(progress=False)
    except Exception as err:  # noqa: BLE001
        o.stopped(err, out)
    finally:
        HFSampler.sample_ids = original
    resume(cfg, reflector=HintReflector())
    return o.finished(out, reference)


def raising_verifier(model, tmp) -> dict:
    from fastslow.tasks import load_task

    out = tmp / "verifier"
    cfg = config(model, out, mode="rl")
    task = load_task("tidy", {"partial_credit": True}, seed=cfg.seed)
    original, calls = task.score, []

    def score(problem, completion):
        calls.append(1)
        if len(calls) % 5 == 0:
            raise ValueError("verifier bug on this completion")
        return original(problem, completion)

    task.score = score
    o = Outcome("a verifier that raises (every 5th completion)", "throughout the run", ("verifier", "raised"))
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    fastslow_log = logging.getLogger("fastslow")
    level = fastslow_log.level
    fastslow_log.addHandler(handler)
    fastslow_log.setLevel(logging.WARNING)
    try:
        Trainer(cfg, tasks=[task]).run(progress=False)
    finally:
        fastslow_log.removeHandler(handler)
        fastslow_log.setLevel(level)
    errors = read_jsonl(out / "metrics.jsonl")[-1]["verifier_errors"]
    said = next((r.getMessage() for r in records if "verifier" in r.getMessage()), "")
    o.went_on(out, f"{said} (verifier_errors in metrics.jsonl: {errors})")
    o.row["verifier_errors"] = errors
    return o.finished(out)


def jsonl_missing_field(model, tmp) -> dict:
    out = tmp / "jsonl"
    data = tmp / "math.jsonl"
    rows = [{"problem": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(12)]
    bad = [dict(r) for r in rows]
    del bad[6]["answer"]
    data.write_text("".join(json.dumps(r) + "\n" for r in bad))
    cfg = config(model, out, mode="rl", task={"id": "math", "args": {"path": str(data), "val": 2, "test": 2}})
    o = Outcome("a JSONL data row missing a field", "line 7 lacks 'answer'", ("math.jsonl:7", "answer"))
    try:
        Trainer(cfg).run(progress=False)
    except Exception as err:  # noqa: BLE001
        o.stopped(err, out)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    resume(cfg)
    return o.finished(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--kill-trials", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    no_proxy(os.environ)
    logging.getLogger("fastslow").setLevel(logging.ERROR)  # the table is the output
    prov = provenance(" ".join(["python", *sys.argv]))
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="fst-faults-") as tmp:
        tmp = Path(tmp)
        model = save_tiny_model(tmp / "model")
        references = {}
        for mode in ("rl", "fst"):
            out = tmp / f"reference-{mode}"
            Trainer(config(model, out, mode=mode), reflector=HintReflector() if mode == "fst" else None).run(
                progress=False)
            references[mode] = {"weights": weights(out), "metrics": read_jsonl(out / "metrics.jsonl")}
        rows = [
            reflector_fault(model, tmp, "401", True, ("AuthenticationError", "hosted_vllm/stub", "127.0.0.1")),
            reflector_fault(model, tmp, "500", False, ("no usable proposal", "InternalServerError")),
            reflector_fault(model, tmp, "timeout", False, ("no usable proposal", "Timeout")),
            reflector_fault(model, tmp, "garbage", False, ("no usable proposal",)),
            reflector_fault(model, tmp, "unclosed", False, ("no usable proposal", "unusable answer")),
            missing_litellm(model, tmp),
            kill_during_save(model, tmp, references["rl"], args.kill_trials),
            full_disk(model, tmp, references["rl"]),
            engine_death(model, tmp, references["fst"]),
            raising_verifier(model, tmp),
            jsonl_missing_field(model, tmp),
        ]
        for row in rows:
            print(json.dumps({k: row[k] for k in ("fault", "stopped", "clear_message", "survived", "data_lost",
                                                  "identical")}), flush=True)
    result = {"steps": STEPS, "model": "tiny random model (2 layers, hidden 32) with the shipped tokenizer",
              "seconds": round(time.time() - start, 1), "faults": rows, "provenance": prov}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
