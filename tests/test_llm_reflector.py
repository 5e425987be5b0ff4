"""LLMReflector: litellm plumbing, retries, unusable answers. No network: mock_response, monkeypatched
``litellm.completion``, or a throwaway OpenAI-compatible server on 127.0.0.1."""

import json
import logging
import os
from http.server import BaseHTTPRequestHandler

# litellm fetches its price map from GitHub at import time unless told to use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest  # noqa: E402

litellm = pytest.importorskip("litellm")

# litellm builds pydantic schemas lazily on its first call; pydantic warns about their ReadOnly TypedDict items.
pytestmark = pytest.mark.filterwarnings(r"ignore:Items? .* (is|are) using the `ReadOnly` qualifier:UserWarning")

from fastslow.fastweights.reflectors.base import Reflector, ReflectorError  # noqa: E402
from fastslow.fastweights.reflectors.llm import LLMReflector  # noqa: E402
from helpers import LocalHTTPServer, send_chat_completion, send_json_bytes  # noqa: E402

MODEL = "openai/gpt-4o-mini"  # litellm knows its price, so completion_cost is > 0 for a mock answer
EXAMPLES = [
    {"Inputs": "abc -> ?", "Generated Outputs": "cba!", "Feedback": "Wrong: expected 'cba', no punctuation."},
    {"Inputs": "hello -> ?", "Generated Outputs": "olleh", "Feedback": "Correct."},
]


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def make(**kw):
    kw.setdefault("sleep", Sleeps())
    return LLMReflector(MODEL, **kw)


def test_name_and_protocol():
    r = make(mock_response="```\nx\n```")
    assert r.name == "llm:openai/gpt-4o-mini"
    assert isinstance(r, Reflector)


def test_well_formed_answer():
    r = make(mock_response="```\nNew prompt.\n```")
    assert r.propose("Old prompt.", EXAMPLES) == "New prompt."
    s = r.stats
    assert (s.calls, s.proposals, s.failures, s.warnings) == (1, 1, 0, [])
    # litellm's mock answer reports a fixed usage (10 prompt / 20 completion tokens in litellm 1.110).
    assert s.prompt_tokens > 0 and s.completion_tokens > 0
    assert s.cost_usd > 0
    assert r.sleep == []


def test_language_tag_on_fence_dropped():
    r = make(mock_response="Here you go:\n```text\nBe brief.\n```\nDone.")
    assert r.propose("p", EXAMPLES) == "Be brief."


def test_unpriced_model_costs_nothing():
    r = LLMReflector("hosted_vllm/my-local-model", api_base="http://127.0.0.1:9/v1",
                     mock_response="```\nNew.\n```", sleep=Sleeps())
    assert r.propose("p", EXAMPLES) == "New."
    assert r.stats.cost_usd == 0.0
    assert r.stats.prompt_tokens > 0


@pytest.mark.parametrize("answer", ["Just a new prompt without fences.", "```\n   \n```", "```\nunterminated"])
def test_malformed_answer(answer, caplog):
    r = make(mock_response=answer)
    with caplog.at_level(logging.WARNING, logger="fastslow.reflector"):
        assert r.propose("p", EXAMPLES) is None
    s = r.stats
    assert (s.calls, s.proposals, s.failures) == (1, 0, 1)
    assert len(s.warnings) == 1 and "unusable" in s.warnings[0]
    assert any("unusable" in rec.getMessage() for rec in caplog.records)
    assert r.sleep == []  # unusable answers are not retried
    assert s.prompt_tokens > 0  # the answer was paid for all the same


@pytest.mark.parametrize("exc", [litellm.Timeout(message="t", model="m", llm_provider="openai"),
                                 TimeoutError("slow"), ConnectionError("reset")], ids=type)
def test_exception_retried_with_backoff(monkeypatch, caplog, exc):
    calls = []

    def boom(**kwargs):
        calls.append(kwargs)
        raise exc

    monkeypatch.setattr(litellm, "completion", boom)
    r = make(retries=3, backoff=1.0)
    with caplog.at_level(logging.WARNING, logger="fastslow.reflector"):
        assert r.propose("p", EXAMPLES) is None  # and does not raise
    assert len(calls) == 4  # retries=3: the first attempt plus 3 retries
    assert r.sleep == [1, 2, 4]
    s = r.stats
    assert (s.calls, s.proposals, s.failures) == (1, 0, 1)
    assert len(s.warnings) == 1 and type(exc).__name__ in s.warnings[0] and "4 attempt" in s.warnings[0]
    assert any(type(exc).__name__ in rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING)


def test_backoff_scales_and_zero_retries(monkeypatch):
    monkeypatch.setattr(litellm, "completion", lambda **kw: (_ for _ in ()).throw(TimeoutError()))
    r = make(retries=2, backoff=0.5)
    assert r.propose("p", EXAMPLES) is None
    assert r.sleep == [0.5, 1.0]
    r = make(retries=0)
    assert r.propose("p", EXAMPLES) is None
    assert r.sleep == [] and r.stats.failures == 1


def test_recovers_after_transient_failure(monkeypatch):
    real = litellm.completion
    n = {"calls": 0}

    def flaky(**kwargs):
        n["calls"] += 1
        if n["calls"] < 3:
            raise litellm.RateLimitError(message="slow down", model="m", llm_provider="openai")
        return real(**kwargs)

    monkeypatch.setattr(litellm, "completion", flaky)
    r = make(mock_response="```\nFixed.\n```")
    assert r.propose("p", EXAMPLES) == "Fixed."
    assert r.sleep == [1, 2]
    assert (r.stats.proposals, r.stats.failures, r.stats.warnings) == (1, 0, [])


def test_non_retryable_error_gives_up_at_once(monkeypatch):
    def denied(**kwargs):
        raise litellm.AuthenticationError(message="bad key", model="m", llm_provider="openai")

    monkeypatch.setattr(litellm, "completion", denied)
    r = make()
    assert r.propose("p", EXAMPLES) is None
    assert r.sleep == [] and r.stats.failures == 1 and "AuthenticationError" in r.stats.warnings[0]


def test_too_long_proposal_rejected(caplog):
    r = make(max_prompt_chars=20, mock_response="```\n" + "x" * 21 + "\n```")
    with caplog.at_level(logging.WARNING, logger="fastslow.reflector"):
        assert r.propose("p", EXAMPLES) is None
    s = r.stats
    assert (s.proposals, s.failures) == (0, 1)
    assert "21" in s.warnings[0] and "max_prompt_chars=20" in s.warnings[0] and "length cap" in s.warnings[0]
    assert caplog.records
    # exactly at the cap is fine
    r = make(max_prompt_chars=20, mock_response="```\n" + "x" * 20 + "\n```")
    assert r.propose("p", EXAMPLES) == "x" * 20


@pytest.mark.parametrize("bad_prompt, bad_examples", [
    ("p", [{"Inputs": "a", "Generated Outputs": 3, "Feedback": "c"}]),
    ("p", [{"Inputs": "a", "Generated Outputs": "b"}]),
    ("p", ["just a string"]),
    (None, EXAMPLES),
])
def test_contract_violation_raises(monkeypatch, bad_prompt, bad_examples):
    monkeypatch.setattr(litellm, "completion", lambda **kw: pytest.fail("must not call the LLM"))
    r = make(mock_response="```\nx\n```")
    with pytest.raises(TypeError):
        r.propose(bad_prompt, bad_examples)


def test_message_sent_to_llm(monkeypatch):
    real = litellm.completion
    seen = []

    def capture(**kwargs):
        seen.append(kwargs)
        return real(**{**kwargs, "mock_response": "```\nEdited.\n```"})

    monkeypatch.setattr(litellm, "completion", capture)
    r = LLMReflector("anthropic/some-model", api_base="http://127.0.0.1:9", temperature=0.3, timeout=12,
                     max_prompt_chars=777, max_tokens=99, sleep=Sleeps())
    current = "You reverse strings. Answer with the result only."
    assert r.propose(current, EXAMPLES) == "Edited."
    (kw,) = seen
    assert "mock_response" not in kw  # only passed when set
    assert kw["model"] == "anthropic/some-model"
    assert (kw["temperature"], kw["timeout"], kw["api_base"], kw["max_tokens"]) == (0.3, 12, "http://127.0.0.1:9", 99)
    assert kw["max_retries"] == 0  # our loop is the only retry loop
    (msg,) = kw["messages"]
    assert msg["role"] == "user"
    text = msg["content"]
    assert current in text
    for ex in EXAMPLES:
        for key in ("Inputs", "Generated Outputs", "Feedback"):
            assert f"## {key}\n{ex[key]}" in text
    assert "incrementally" in text and "minimally" in text
    assert "777" in text  # the length cap is stated


def test_missing_litellm(monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "litellm", None)  # makes `import litellm` raise ImportError
    r = make(mock_response="```\nx\n```")
    # issue 20: a missing litellm cannot heal, so it stops the run (the preflight reports it before training)
    with pytest.raises(ReflectorError, match=r"pip install 'fastslow\[llm\]'"):
        r.preflight()
    with pytest.raises(ReflectorError, match=r"pip install 'fastslow\[llm\]'"):
        r.propose("p", EXAMPLES)
    with pytest.raises(TypeError):  # the contract is still checked first
        r.propose("p", [{"Inputs": 1}])


def test_importing_fastslow_does_not_import_litellm():
    import subprocess
    import sys

    code = ("import sys, fastslow, fastslow.fastweights.reflectors, fastslow.fastweights.reflectors.llm;"
            "sys.exit(1 if 'litellm' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


class _FakeOpenAIServer(LocalHTTPServer):
    """An OpenAI-compatible /v1/chat/completions endpoint on localhost: fails the first `fail_first` requests."""

    def __init__(self, answer, fail_first=0):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body))
                if len(outer.requests) <= fail_first:
                    send_json_bytes(self, 503, b'{"error": {"message": "overloaded"}}')
                else:
                    send_chat_completion(self, 200, body["model"], answer, "x", usage=(7, 3))

            def log_message(self, *args):
                pass

        super().__init__(Handler)


def test_local_openai_compatible_server(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with _FakeOpenAIServer("```\nLocal edit.\n```", fail_first=2) as srv:
        r = LLMReflector("hosted_vllm/local-model", api_base=srv.api_base, timeout=10, retries=3, sleep=Sleeps())
        assert r.propose("p", EXAMPLES) == "Local edit."
    # two 503s and one success: exactly three HTTP requests, so the client's own retries are off
    assert len(srv.requests) == 3
    assert r.sleep == [1, 2]
    path, body = srv.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "local-model" and body["max_tokens"] == 1024
    assert "## Feedback\nCorrect." in body["messages"][0]["content"]
    assert (r.stats.prompt_tokens, r.stats.completion_tokens, r.stats.cost_usd) == (7, 3, 0.0)


# -- thinking models and chat-template residue ------------------------------------------------------------------

from fastslow.fastweights.reflectors.proposer_prompt import find_template_residue, strip_thinking  # noqa: E402


@pytest.mark.parametrize("answer", [
    "<think>Maybe ```\nDraft.\n``` no.</think>\n```\nFinal prompt.\n```",  # a draft fence inside the thinking
    "<think>\nreasoning\n</think>\n\n```text\nFinal prompt.\n```",
    "<THINK>shouting</THINK>```\nFinal prompt.\n```",
    "<think>a</think><think>b ```\nx\n```</think>```\nFinal prompt.\n```",  # several blocks
    "the template opened the block: ```\ndraft\n``` so only the end tag appears</think>\n```\nFinal prompt.\n```",
    "<thinking>long form tag ```\ndraft\n```</thinking>```\nFinal prompt.\n```",
])
def test_thinking_is_stripped_before_the_fence(answer):
    r = make(mock_response=answer)
    assert r.propose("p", EXAMPLES) == "Final prompt."
    assert (r.stats.proposals, r.stats.failures, r.stats.warnings) == (1, 0, [])


def test_unterminated_leading_think_is_unusable(caplog):
    r = make(mock_response="<think>The user wants a prompt. Let me draft:\n```\nDraft prompt.\n```\nHmm, but")
    with caplog.at_level(logging.WARNING, logger="fastslow.reflector"):
        assert r.propose("p", EXAMPLES) is None  # the draft inside an unfinished thought is not a proposal
    assert (r.stats.proposals, r.stats.failures) == (0, 1)
    assert "unusable" in r.stats.warnings[0] and "nothing but thinking" in r.stats.warnings[0]
    assert r.sleep == []


@pytest.mark.parametrize("residue", ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>",
                                     "<|assistant|>", "[INST]", "[/INST]", "<s>", "</s>", "<|eot_id|>",
                                     "<|start_header_id|>", "<|end_header_id|>", "<|user|>", "<end_of_turn>",
                                     "<｜end▁of▁sentence｜>", "<<SYS>>"])
def test_template_residue_rejected(residue, caplog):
    r = make(mock_response=f"```\nAnswer with the result only.{residue}\nassistant\n```")
    with caplog.at_level(logging.WARNING, logger="fastslow.reflector"):
        assert r.propose("p", EXAMPLES) is None  # never raises
    s = r.stats
    assert (s.calls, s.proposals, s.failures) == (1, 0, 1)
    assert "residue" in s.warnings[0] and repr(residue) in s.warnings[0] and "Proposal skipped" in s.warnings[0]
    assert any("residue" in rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING)
    assert r.sleep == []  # paid for, not retried


def test_residue_outside_the_fence_is_harmless():
    r = make(mock_response="```\nClean prompt.\n```<|im_end|>\n<|endoftext|>")
    assert r.propose("p", EXAMPLES) == "Clean prompt."


@pytest.mark.parametrize("clean", ["Compare a < b and b > c.", "Write x -> y; use <answer> tags.",
                                   "Use | to separate items: a | b.", "Mention <script> literally.",
                                   "Lists [1, 2] and INST as a word are fine."])
def test_clean_prompts_are_not_residue(clean):
    assert find_template_residue(clean) is None
    assert make(mock_response=f"```\n{clean}\n```").propose("p", EXAMPLES) == clean


def test_strip_thinking_cases():
    assert strip_thinking("no thinking here") == "no thinking here"
    assert strip_thinking("<think>x</think>answer") == "answer"
    assert strip_thinking("  <think>never closed ```\na\n```") == ""
    assert strip_thinking("opened by the template</think>answer") == "answer"
    assert strip_thinking("a</think>b<think>c</think>d") == "bd"
    # an unclosed tag that is not leading is left for the residue check
    assert "<think>" in strip_thinking("```\nx\n```\n<think>late")


def test_thinking_model_over_http(monkeypatch):
    """A local thinking model behind an OpenAI-compatible server: thinking stripped, then residue rejected."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with _FakeOpenAIServer("<think>draft ```\nbad\n```</think>\n```\nThought through.\n```") as srv:
        r = LLMReflector("hosted_vllm/qwen3", api_base=srv.api_base, timeout=10, retries=0, sleep=Sleeps())
        assert r.propose("p", EXAMPLES) == "Thought through."
    with _FakeOpenAIServer("```\nLeaked.<|im_end|>\n<|im_start|>assistant\n```") as srv:
        r = LLMReflector("hosted_vllm/qwen3", api_base=srv.api_base, timeout=10, retries=0, sleep=Sleeps())
        assert r.propose("p", EXAMPLES) is None
    assert len(srv.requests) == 1 and r.stats.failures == 1 and "'<|im_end|>'" in r.stats.warnings[0]
