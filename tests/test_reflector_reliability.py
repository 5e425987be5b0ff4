"""Issue 20, items 1-2: a reflector that cannot work stops the run at start; transient errors are retried,
bounded; every proposal is accounted for by outcome; rounds with no usable proposal are logged with the reasons,
and ``population.max_failed_rounds`` of them in a row stop the run with its last checkpoint intact."""

import logging
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest  # noqa: E402

pytest.importorskip("litellm")
pytestmark = pytest.mark.filterwarnings(r"ignore:Items? .* (is|are) using the `ReadOnly` qualifier:UserWarning")

from helpers import HintReflector  # noqa: E402
from stub_llm import StubLLM, no_proxy  # noqa: E402

from fastslow.checkpoint import complete_checkpoints, latest, verify  # noqa: E402
from fastslow.config import ReflectorConfig, parse_config  # noqa: E402
from fastslow.fastweights.adapter import COMPONENT  # noqa: E402
from fastslow.fastweights.gepa_round import PROPOSAL_OUTCOMES, make_proposer  # noqa: E402
from fastslow.fastweights.reflectors.base import ReflectorError, ReflectorStats  # noqa: E402
from fastslow.fastweights.reflectors.factory import CountingReflector, build_reflector  # noqa: E402
from fastslow.fastweights.reflectors.llm import LLMReflector  # noqa: E402
from fastslow.metrics import read_jsonl  # noqa: E402
from fastslow.trainer import Trainer  # noqa: E402

EXAMPLES = [{"Inputs": "abc", "Generated Outputs": "cba!", "Feedback": "Wrong: expected 'cba'."}]


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    env = dict(os.environ)
    no_proxy(env)
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("NO_PROXY", env["NO_PROXY"])
    monkeypatch.setenv("no_proxy", env["no_proxy"])


def llm(api_base, **kw):
    kw.setdefault("sleep", Sleeps())
    kw.setdefault("timeout", 10)
    return LLMReflector("hosted_vllm/stub-model", api_base=api_base, **kw)


# -- 1. fail fast ------------------------------------------------------------------------------------------------

def test_preflight_passes_on_a_working_server():
    with StubLLM("ok") as stub:
        llm(stub.api_base).preflight()
    assert len(stub.requests) == 1 and stub.requests[0]["max_tokens"] == 16


@pytest.mark.parametrize("mode, kind, hint, requests", [
    ("401", "AuthenticationError", "API key", 1),  # cannot heal: not retried
    ("404", "NotFoundError", "population.reflector.model", 1),
    ("500", "InternalServerError", "see the error above", 3),  # transient: retried, bounded
])
def test_preflight_failure_names_model_and_endpoint(mode, kind, hint, requests):
    with StubLLM(mode) as stub:
        r = llm(stub.api_base, retries=2)
        with pytest.raises(ReflectorError) as err:
            r.preflight()
    text = str(err.value)
    assert "hosted_vllm/stub-model" in text and stub.api_base in text and kind in text and hint in text
    assert len(stub.requests) == requests and r.sleep == [1, 2][: requests - 1]


def test_preflight_unreachable_endpoint():
    r = llm("http://127.0.0.1:9/v1", retries=1)
    with pytest.raises(ReflectorError, match=r"127\.0\.0\.1:9/v1 gave .* after 2 attempt.*Connection refused.*"
                                             r"running and reachable"):
        r.preflight()


def test_preflight_bad_model_name_and_no_litellm_banner(capfd):
    r = LLMReflector("no-such-provider-model", api_base=None, sleep=Sleeps())
    with pytest.raises(ReflectorError, match="provider prefix"):
        r.preflight()
    out, err = capfd.readouterr()
    assert "Provider List" not in out + err  # litellm's banner is silenced


def test_factory_runs_the_preflight_and_passes_max_tokens():
    with StubLLM("401") as stub:
        with pytest.raises(ReflectorError, match="AuthenticationError"):
            build_reflector(ReflectorConfig(kind="llm", model="hosted_vllm/x", api_base=stub.api_base))
    with StubLLM("ok") as stub:
        r = build_reflector(ReflectorConfig(kind="llm", model="hosted_vllm/x", api_base=stub.api_base,
                                            max_tokens=333))
        assert r.propose("Be exact.", EXAMPLES) == "Be exact. Check every step (2)."
    assert [b["max_tokens"] for b in stub.requests] == [16, 333]  # preflight, then the configured cap


def test_transient_errors_retried_with_backoff_then_counted(caplog):
    with StubLLM("timeout", hang_s=2.0) as stub:
        r = llm(stub.api_base, retries=1, timeout=0.3)
        with caplog.at_level(logging.WARNING, logger="fastslow.reflector"):
            assert r.propose("p", EXAMPLES) is None
    assert len(stub.requests) == 2 and r.sleep == [1]
    assert r.stats.outcomes == {"call_failed": 1} and "Timeout" in r.stats.warnings[0]


@pytest.mark.parametrize("mode, outcome", [("unclosed", "unusable"), ("garbage", "call_failed")])
def test_unusable_answers_are_classified(mode, outcome):
    with StubLLM(mode) as stub:
        r = llm(stub.api_base, retries=0)
        assert r.propose("p", EXAMPLES) is None
    assert r.stats.outcomes == {outcome: 1}


# -- 2. every proposal accounted for -----------------------------------------------------------------------------

class Scripted:
    """Answers from a script: a string, None (nothing to change), or an exception to raise."""

    name = "scripted"

    def __init__(self, script):
        self.script, self.i = list(script), 0

    def propose(self, current, examples):
        item = self.script[self.i % len(self.script)]
        self.i += 1
        if isinstance(item, Exception):
            raise item
        return item.replace("{current}", current) if isinstance(item, str) else item


def test_every_proposal_counted_by_outcome():
    stats = ReflectorStats()

    class WithKinds(Scripted):
        def __init__(self):
            super().__init__([])
            self.stats = stats
            self.kinds = ["unusable", "residue", "too_long", None]

        def propose(self, current, examples):
            kind = self.kinds.pop(0)
            if kind is None:
                return current  # a repeat of the parent
            stats.fail(kind, f"because {kind}")
            return None

    counters = {"reflection_calls": 0, "too_long": 0}
    propose = make_proposer(WithKinds(), 100, counters)
    for _ in range(4):
        assert propose({COMPONENT: "p"}, {COMPONENT: EXAMPLES}, [COMPONENT]) == {}
    wrapped = CountingReflector(Scripted([RuntimeError("boom"), 7, None, "x" * 200, "{current} more"]), "wrapped")
    propose = make_proposer(wrapped, 100, counters)
    results = [propose({COMPONENT: "p"}, {COMPONENT: EXAMPLES}, [COMPONENT]) for _ in range(5)]
    assert results[-1] == {COMPONENT: "p more"} and all(r == {} for r in results[:-1])
    assert counters["reflection_calls"] == 9
    assert {k: counters.get(k, 0) for k in ("unusable", "residue", "too_long", "repeat_parent", "call_failed",
                                            "no_proposal", "evaluated")} == {
        "unusable": 2, "residue": 1, "too_long": 2, "repeat_parent": 1, "call_failed": 1, "no_proposal": 1,
        "evaluated": 1}
    assert any("boom" in reason for reason in counters["reasons"])


# -- the trainer: outcomes in the round record, failed rounds logged and bounded -----------------------------------

def fst_config(model_dir, out, steps=8, max_failed_rounds=2):
    return parse_config({
        "mode": "fst", "model": str(model_dir), "output_dir": str(out), "steps": steps, "seed": 1,
        "task": {"name": "tidy", "partial_credit": True},
        "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
        "population": {"size": 2, "cycle_steps": 2, "anchor_size": 4, "budget": 8, "minibatch_size": 2,
                       "max_failed_rounds": max_failed_rounds},
        "eval": {"every": 4, "problems": 4, "k": 2, "kl_problems": 0},
        "checkpoint": {"every": 2, "keep": 2},
    })


def broken():
    return CountingReflector(Scripted([ConnectionError("server went away")]), "llm:broken")


def test_round_records_count_every_proposal(tiny_model_dir, tmp_path):
    reflector = CountingReflector(Scripted(["{current}", None, "{current} Be exact."]), "scripted")
    Trainer(fst_config(tiny_model_dir, tmp_path, steps=4), reflector=reflector).run(progress=False)
    rounds = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["kind"] == "gepa"]
    assert rounds
    for r in rounds:
        outcomes = {k: r[f"proposals_{k}"] for k in PROPOSAL_OUTCOMES}
        assert sum(outcomes.values()) == r["reflection_calls"] > 0
        assert outcomes["accepted"] == r["accepted"]
        assert outcomes["repeat_parent"] > 0 and not r["round_failed"]


def test_failed_rounds_stop_the_run_and_leave_it_resumable(tiny_model_dir, tmp_path, caplog):
    cfg = fst_config(tiny_model_dir, tmp_path)
    with caplog.at_level(logging.WARNING, logger="fastslow.gepa"):
        with pytest.raises(ReflectorError) as err:
            Trainer(cfg, reflector=broken()).run(progress=False)
    text = str(err.value)
    assert "no usable proposal in 2 GEPA round(s) in a row" in text and "server went away" in text
    assert "step-0000002" in text and "fst run --resume" in text
    # each failed round was logged with its reasons
    logged = [rec.getMessage() for rec in caplog.records if "no usable proposal" in rec.getMessage()]
    assert len(logged) == 2 and all("server went away" in m for m in logged)
    rounds = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["kind"] == "gepa"]
    assert [r["round_failed"] for r in rounds] == [True, True]
    assert rounds[-1]["proposals_call_failed"] == rounds[-1]["reflection_calls"] > 0
    # the last checkpoint is intact, and the run continues from it once the reflector works again
    assert latest(tmp_path / "checkpoints").name == "step-0000002"
    verify(latest(tmp_path / "checkpoints"))
    resumed = Trainer(cfg, reflector=HintReflector())
    assert resumed.resume() == 2
    resumed.run(progress=False)
    assert [c.name for c in complete_checkpoints(tmp_path / "checkpoints")] == ["step-0000006", "step-0000008"]


def test_max_failed_rounds_zero_never_stops(tiny_model_dir, tmp_path):
    history = Trainer(fst_config(tiny_model_dir, tmp_path, steps=6, max_failed_rounds=0),
                      reflector=broken()).run(progress=False)
    assert sum(h["kind"] == "gepa" and h["round_failed"] for h in history) == 3


def test_a_bad_reflector_stops_before_training(tiny_model_dir, tmp_path):
    cfg = fst_config(tiny_model_dir, tmp_path)
    with StubLLM("401") as stub:
        cfg.population.reflector = ReflectorConfig(kind="llm", model="hosted_vllm/x", api_base=stub.api_base)
        with pytest.raises(ReflectorError, match="preflight failed"):
            Trainer(cfg)
    assert not (tmp_path / "metrics.jsonl").exists() and not (tmp_path / "checkpoints").exists()


def test_log_level_option_and_third_party_quiet():
    import logging as py_logging

    from typer.testing import CliRunner

    from fastslow.cli import app
    from fastslow.errors import FastSlowError
    from fastslow.logs import setup_logging

    assert "--log-level" in CliRunner().invoke(app, ["run", "--help"]).output
    logger = py_logging.getLogger("fastslow")
    level, handlers = logger.level, list(logger.handlers)
    setup_logging("INFO")
    try:
        assert logger.level == py_logging.INFO and logger.propagate  # caplog and app handlers still see records
        assert py_logging.getLogger("LiteLLM").level >= py_logging.WARNING
        with pytest.raises(FastSlowError, match="--log-level must be one of"):
            setup_logging("LOUD")
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers


def test_a_raising_reflector_is_counted_and_a_fatal_one_ends_the_round():
    """gepa swallows a proposer's exceptions (and asks again): the proposer counts them itself, and keeps a
    ``ReflectorError`` (cannot heal) so that the round re-raises it after gepa returns."""

    class Raising(Scripted):
        stats = ReflectorStats()

    counters = {"reflection_calls": 0, "too_long": 0}
    propose = make_proposer(Raising([RuntimeError("bug"), ReflectorError("litellm vanished"), "{current}!"]), 100,
                            counters)
    assert propose({COMPONENT: "p"}, {COMPONENT: EXAMPLES}, [COMPONENT]) == {}
    assert counters["call_failed"] == 1 and "bug" in counters["reasons"][0]
    assert propose({COMPONENT: "p"}, {COMPONENT: EXAMPLES}, [COMPONENT]) == {}
    assert isinstance(counters["fatal"], ReflectorError)
    assert propose({COMPONENT: "p"}, {COMPONENT: EXAMPLES}, [COMPONENT]) == {}  # not asked again
    assert counters["call_failed"] == 2 and counters["reflection_calls"] == 2  # every call has its outcome
