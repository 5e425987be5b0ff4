"""Acceptance: a task defined in the user's own module, loaded by ``module:attr``, trained by ``fst run`` in modes
rl, gepa and fst; the last two with the LLM reflector talking HTTP to a local OpenAI-compatible stub. A verifier
that raises costs only the rollouts it raised on. Custom reflectors (``population.reflector.kind: python``)."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import yaml
from typer.testing import CliRunner

from fastslow.cli import app
from fastslow.config import parse_config
from fastslow.fastweights.reflectors.base import ReflectorStats
from fastslow.fastweights.reflectors.factory import CountingReflector, build_reflector
from fastslow.metrics import read_jsonl
from fastslow.plugins import PluginLoadError
from fastslow.rl import rollouts as rollouts_module
from helpers import send_chat_completion, user_module

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch its price map

# litellm builds pydantic schemas lazily on its first call; pydantic warns about their ReadOnly TypedDict items.
pytestmark = pytest.mark.filterwarnings(r"ignore:Items? .* (is|are) using the `ReadOnly` qualifier:UserWarning")

# The user's task module: a complete plug-in following fastslow/tasks/base.py, reusing Rulebook's grader.
TASK_MODULE = '''
"""Reverse a short string: a toy task for the shipped tiny model."""

import random

from fastslow.rulebook.verifier import grade
from fastslow.tasks.base import Problem, Score, render_messages

SPLIT_INDEX = {"train": 0, "val": 1, "test": 2}


class ReverseTask:
    name = "reverse_plugin"

    def __init__(self, seed=0, length=4, raise_every=0):
        self.seed, self.length, self.raise_every = seed, length, raise_every
        self.seed_prompt = "Transform the input."
        self.calls = 0

    def problems(self, split, n):
        if split not in SPLIT_INDEX:
            raise ValueError(f"unknown split {split!r}")
        rng = random.Random(f"reverse|{split}|{self.seed}")
        out, seen = [], set()
        while len(out) < n:
            text = "".join(rng.choice("abcdef") for _ in range(self.length))
            if sum(map(ord, text)) % 3 != SPLIT_INDEX[split] or text in seen:
                continue  # the splits are disjoint by construction
            seen.add(text)
            out.append(Problem(f"{self.name}/{split}/{len(out)}", text, {"target": text[::-1]}))
        return out

    def render(self, problem, system_prompt):
        return render_messages(problem, system_prompt)

    def score(self, problem, completion):
        self.calls += 1
        if self.raise_every and self.calls % self.raise_every == 0:
            raise RuntimeError(f"flaky verifier on call {self.calls}")
        return grade(problem.text, problem.metadata["target"], completion, partial=True)

    def gold_completion(self, problem):
        return problem.metadata["target"]


def make_task(seed=0, length=4, raise_every=0):
    return ReverseTask(seed, length, raise_every)
'''

# A custom reflector module for kind: python.
REFLECTOR_MODULE = '''
from fastslow.fastweights.reflectors.base import ReflectorStats, check_examples


class Appender:
    """Keeps its own stats."""

    def __init__(self, suffix, seed=0):
        self.suffix, self.seed = suffix, seed
        self.name = "appender"
        self.stats = ReflectorStats()

    def propose(self, current_prompt, examples):
        check_examples(current_prompt, examples)
        self.stats.calls += 1
        self.stats.proposals += 1
        return f"{current_prompt} {self.suffix}"


class Bare:
    """No stats, no name: fastslow wraps and counts it."""

    def __init__(self, mode="ok"):
        self.mode = mode

    def propose(self, current_prompt, examples):
        if self.mode == "raise":
            raise RuntimeError("reflector bug")
        if self.mode == "number":
            return 42
        if self.mode == "none":
            return None
        return current_prompt + " Be exact."


def make_bare(mode="ok"):
    return Bare(mode)


class NoPropose:
    def suggest(self, current_prompt, examples):
        return current_prompt


class OddStats:
    stats = {"calls": 0}

    def propose(self, current_prompt, examples):
        return current_prompt


READY = Bare()
'''


class StubLLM:
    """An OpenAI-compatible ``/v1/chat/completions`` server on 127.0.0.1, in a thread that stops itself after
    ``deadline`` seconds or ``max_requests`` requests (or when the ``with`` block ends). It answers like a local
    thinking model: a ``<think>`` block with a draft, then the fenced edit of the prompt. Request number
    ``residue_on`` gets a proposal that leaks a chat-template token (the reflector must reject it)."""

    def __init__(self, deadline: float = 60.0, max_requests: int = 200, residue_on: int = 2):
        self.requests: list[tuple[str, dict]] = []
        self.stop = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append((self.path, body))
                n = len(stub.requests)
                leak = "<|im_end|>" if n == residue_on else ""
                answer = (f"<think>The outputs are not reversed. Draft:\n```\ndraft {n}\n```\n</think>\n"
                          f"```\nTransform the input. Write the input backwards, edit {n}.{leak}\n```")
                send_chat_completion(self, 200 if self.path == "/v1/chat/completions" else 404, body["model"],
                                     answer, f"stub-{n}", usage=(50, 20))

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 0.05
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        end = time.monotonic() + deadline

        def serve():
            while not self.stop.is_set() and time.monotonic() < end and len(self.requests) < max_requests:
                self.server.handle_request()
            self.server.server_close()

        self.thread = threading.Thread(target=serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


@pytest.fixture
def task_module(tmp_path, monkeypatch):
    """The user's task module, on sys.path under a unique name; returns that name."""
    return user_module(tmp_path, monkeypatch, "user_task", TASK_MODULE, "user_code")


@pytest.fixture
def reflector_module(tmp_path, monkeypatch):
    return user_module(tmp_path, monkeypatch, "user_reflector", REFLECTOR_MODULE, "user_reflectors")


@pytest.fixture
def no_proxy(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def write_config(path, model_dir, out, mode, task_id, task_args=None, reflector=None, steps=4):
    config = {
        "mode": mode, "model": str(model_dir), "output_dir": str(out), "steps": steps,
        "task": {"id": task_id, "args": task_args or {}},
        "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
        "population": {"size": 2, "cycle_steps": 2, "anchor_size": 4, "budget": 8, "minibatch_size": 2,
                       **({"reflector": reflector} if reflector else {})},
        "eval": {"every": steps, "problems": 4, "k": 2, "kl_problems": 0},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def fst_run(config):
    result = CliRunner().invoke(app, ["run", str(config), "--quiet"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


def records(out, kind):
    return [r for r in read_jsonl(out / "metrics.jsonl") if r["kind"] == kind]


# -- the acceptance runs -----------------------------------------------------------------------------------------

def test_plugin_task_rl_mode(task_module, tiny_model_dir, tmp_path):
    out = tmp_path / "rl"
    fst_run(write_config(tmp_path / "rl.yaml", tiny_model_dir, out, "rl", f"{task_module}:make_task",
                         {"length": 4}, steps=3))
    train, evals = records(out, "train"), records(out, "eval")
    assert [r["step"] for r in train] == [1, 2, 3] and [r["step"] for r in evals] == [0, 3]
    assert all(0 <= r["reward_mean"] <= 1 for r in train) and "val_mean@2" in evals[-1]
    assert train[-1]["rl_rollouts"] == 3 * 2 * 4 and train[-1]["verifier_errors"] == 0
    assert evals[-1]["lead_prompt"] == "Transform the input."  # rl keeps the task's seed prompt
    assert (out / "final" / "model.safetensors").is_file()
    saved = json.loads((out / "config.json").read_text())
    assert saved["task"]["id"] == f"{task_module}:make_task" and saved["task"]["args"] == {"length": 4}


@pytest.mark.parametrize("mode", ["gepa", "fst"])
def test_plugin_task_with_llm_reflector_over_http(mode, task_module, tiny_model_dir, tmp_path, no_proxy):
    out = tmp_path / mode
    with StubLLM(residue_on=3) as stub:  # request 1 is the preflight (issue 20), 3 the second proposal
        reflector = {"kind": "llm", "model": "hosted_vllm/stub-thinker", "api_base": stub.api_base,
                     "timeout": 20, "retries": 0}
        fst_run(write_config(tmp_path / f"{mode}.yaml", tiny_model_dir, out, mode, f"{task_module}:make_task",
                             reflector=reflector))
    preflight = stub.requests.pop(0)[1]
    assert preflight["max_tokens"] == 16 and "preflight" in preflight["messages"][0]["content"]
    assert stub.requests, "the reflector never reached the stub server"
    for path, body in stub.requests:
        assert path == "/v1/chat/completions" and body["model"] == "stub-thinker"
        text = body["messages"][0]["content"]
        assert "## Feedback" in text and "expected '" in text  # the plug-in's verifier feedback reached it
    rounds, train, evals = records(out, "gepa"), records(out, "train"), records(out, "eval")
    assert [r["step"] for r in rounds] == [0, 2] and [r["step"] for r in train] == [1, 2, 3, 4]
    n = len(stub.requests)
    assert train[-1]["reflection_calls"] == n and train[-1]["gepa_metric_calls"] > 0
    # the thinking block was stripped (no failure for it); the one proposal leaking <|im_end|> was rejected
    assert rounds[-1]["reflector_failures"] == (1 if n >= 2 else 0)
    assert rounds[-1]["reflector_tokens"] == 70 * (n + 1)  # the preflight call is paid for too
    proposed = {p for r in rounds for p in r["population"]} | {r["lead_prompt"] for r in evals}
    assert not any("<|im_end|>" in p or "draft" in p or "<think>" in p for p in proposed)
    if mode == "fst":
        assert train[-1]["rl_rollouts"] + train[-1]["reused_rollouts"] == 4 * 2 * 4
    else:
        assert "rl_rollouts" in train[-1] and train[-1]["rl_rollouts"] == 0
    assert (out / "final" / "model.safetensors").is_file()


def test_verifier_that_raises_costs_only_its_rollouts(task_module, tiny_model_dir, tmp_path, monkeypatch):
    seen = []
    original = rollouts_module.collect_groups

    def recording(*args, **kwargs):
        groups = original(*args, **kwargs)
        seen.extend(r for g in groups for r in g.rollouts)
        return groups

    monkeypatch.setattr("fastslow.trainer.collect_groups", recording)
    out = tmp_path / "flaky"
    fst_run(write_config(tmp_path / "flaky.yaml", tiny_model_dir, out, "rl", f"{task_module}:make_task",
                         {"raise_every": 5}, steps=3))
    failed = [r for r in seen if r.verifier_error]
    assert len(seen) == 3 * 2 * 4 and failed and len(failed) < len(seen)
    for r in failed:
        assert r.reward == 0.0 and not r.correct
        assert "verifier failed" in r.feedback and "RuntimeError: flaky verifier" in r.feedback
    assert all("verifier failed" not in r.feedback for r in seen if not r.verifier_error)
    train, evals = records(out, "train"), records(out, "eval")
    assert [r["step"] for r in train] == [1, 2, 3]  # the run went on to the end
    assert train[-1]["verifier_errors"] >= len(failed) > 0
    assert evals[-1]["verifier_errors"] > train[-1]["verifier_errors"]  # evaluation counts its own failures
    assert (out / "final" / "model.safetensors").is_file()


# -- custom reflectors: population.reflector.kind: python --------------------------------------------------------

EXAMPLES = [{"Inputs": "abcd", "Generated Outputs": "abcd", "Feedback": "expected 'dcba'"}]


def python_reflector(module, attr, args=None, seed=0):
    cfg = parse_config({"mode": "gepa", "population": {"reflector": {"kind": "python", "id": f"{module}:{attr}",
                                                                     "args": args or {}}}})
    return build_reflector(cfg.population.reflector, seed=seed, max_prompt_chars=500)


def test_python_reflector_class_with_own_stats(reflector_module):
    r = python_reflector(reflector_module, "Appender", {"suffix": "Reverse it."}, seed=3)
    assert type(r).__name__ == "Appender" and r.seed == 3 and r.name == "appender"  # seed passed, not wrapped
    assert r.propose("Transform.", EXAMPLES) == "Transform. Reverse it."
    assert (r.stats.calls, r.stats.proposals) == (1, 1)


@pytest.mark.parametrize("attr, args", [("make_bare", {}), ("Bare", {}), ("READY", {})])
def test_python_reflector_without_stats_is_wrapped(reflector_module, attr, args):
    r = python_reflector(reflector_module, attr, args)
    assert isinstance(r, CountingReflector) and isinstance(r.stats, ReflectorStats)
    assert r.name == f"python:{reflector_module}:{attr}" and r.mode == "ok"  # attributes read through
    assert r.propose("Transform.", EXAMPLES) == "Transform. Be exact."
    assert (r.stats.calls, r.stats.proposals, r.stats.failures) == (1, 1, 0)


@pytest.mark.parametrize("mode, why", [("raise", "RuntimeError: reflector bug"), ("number", "int 42")])
def test_wrapped_python_reflector_failures_are_counted(reflector_module, mode, why, caplog):
    r = python_reflector(reflector_module, "make_bare", {"mode": mode})
    with caplog.at_level("WARNING", logger="fastslow.reflector"):
        assert r.propose("Transform.", EXAMPLES) is None  # never raises
    assert (r.stats.calls, r.stats.proposals, r.stats.failures) == (1, 0, 1)
    assert why in r.stats.warnings[0] and "Proposal skipped" in r.stats.warnings[0]
    assert caplog.records
    r = python_reflector(reflector_module, "make_bare", {"mode": "none"})
    assert r.propose("Transform.", EXAMPLES) is None and r.stats.failures == 0  # nothing to propose


@pytest.mark.parametrize("attr, args, message", [
    ("NoPropose", {}, "NoPropose, which has no method propose(current_prompt, examples)"),
    ("OddStats", {}, "whose stats lacks calls, proposals"),
    ("Appender", {"bogus": 1}, "Appender rejected the arguments {'bogus': 1}"),
    ("READY", {"mode": "ok"}, "ready reflector object"),
    ("missing_attr", {}, "has no attribute 'missing_attr'"),
])
def test_python_reflector_errors_name_the_culprit(reflector_module, attr, args, message):
    with pytest.raises(PluginLoadError) as info:
        python_reflector(reflector_module, attr, args)
    text = str(info.value)
    assert f"population.reflector.id '{reflector_module}:{attr}'" in text and message in text


def test_python_reflector_module_that_fails_to_import(tmp_path):
    path = tmp_path / "broken_reflector.py"
    path.write_text("import not_installed_anywhere_xyz\n")
    with pytest.raises(PluginLoadError, match="ModuleNotFoundError.*not_installed_anywhere_xyz"):
        python_reflector(str(path), "R")


def test_plugin_task_with_python_reflector_gepa(task_module, reflector_module, tiny_model_dir, tmp_path):
    out = tmp_path / "py"
    fst_run(write_config(tmp_path / "py.yaml", tiny_model_dir, out, "gepa", f"{task_module}:make_task",
                         reflector={"kind": "python", "id": f"{reflector_module}:Appender",
                                    "args": {"suffix": "Write it backwards."}}, steps=2))
    (round_,) = records(out, "gepa")
    assert round_["reflection_calls"] > 0 and round_["reflector_failures"] == 0
