"""LoRA via peft on the shipped tiny model: only the adapter trains, the reference is the adapter-disabled model
(the base exactly, no copy), sampling stays exact, checkpoints hold the adapter and resume bitwise, the final
export is merged or adapter-only, and ``reference: none`` runs without KL."""

import copy

import pytest
import torch

from fastslow.checkpoint import complete_checkpoints
from fastslow.config import ModelConfig, parse_config
from fastslow.metrics import read_jsonl
from fastslow.model.base import load_model
from fastslow.model.lora import AdapterDisabledReference, build_reference, is_peft, prepare_policy
from fastslow.rl.advantages import assign
from fastslow.rl.learner import Learner, LearnerConfig
from fastslow.rl.rollouts import collect_groups
from fastslow.rulebook import get_task
from fastslow.sampling import HFSampler, SamplingParams
from fastslow.trainer import Trainer

LORA = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}


def lora_model(base_model, **lora):
    model, tok = base_model
    policy = prepare_policy(copy.deepcopy(model), ModelConfig(path="base", lora={**LORA, **lora}))
    return policy, tok


def perturb_adapter(policy, seed=0):
    """Non-zero B matrices, so the adapter changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits


@pytest.fixture(scope="module")
def ids(base_model):
    _, tok = base_model
    task = get_task("tidy")
    text = tok.apply_chat_template(task.render(task.problems("val", 1)[0], task.seed_prompt), tokenize=False,
                                   add_generation_prompt=True)
    return torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])


def test_only_adapter_trains_and_reference_is_the_base_exactly(base_model, ids):
    base, _ = base_model
    policy, _ = lora_model(base_model)
    assert is_peft(policy)
    trainable = [n for n, p in policy.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert all(("q_proj" in n or "v_proj" in n) for n in trainable)
    ref = build_reference(policy, "copy")
    assert isinstance(ref, AdapterDisabledReference) and list(ref.parameters()) == []  # no duplicated weights
    perturb_adapter(policy)
    expected = logits(base, ids)
    assert not torch.allclose(logits(policy, ids), expected, atol=1e-3)  # the adapter does something
    policy.train()
    assert torch.equal(logits(ref, ids), expected)  # adapter disabled = the un-wrapped base model, bit for bit
    assert policy.training  # the reference restored the policy's mode
    # the call signature the learner and evaluation/kl.py use
    kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=torch.arange(ids.shape[1])[None],
              use_cache=False, logits_to_keep=3)
    with torch.no_grad():
        assert torch.equal(ref(**kw).logits, base(**kw).logits)
    assert build_reference(policy, "none") is None


@pytest.mark.parametrize("fast", [None, False])
def test_sampler_logprobs_on_lora_model_match_teacher_forcing(base_model, fast):
    policy, tok = lora_model(base_model)
    perturb_adapter(policy, seed=1)
    policy.eval()
    sampler = HFSampler(policy, tok, fast=fast)
    assert sampler.fast is False  # the fused fast decoder would ignore the LoRA deltas
    task = get_task("tidy")
    prompts = [task.render(p, task.seed_prompt) for p in task.problems("val", 3)]
    out = sampler.sample(prompts, SamplingParams(temperature=0.7, max_new_tokens=16, seed=3), n=2)
    for row in out:
        for c in row:
            full = torch.tensor([c.prompt_ids + c.token_ids])
            with torch.no_grad():
                lp = (policy(input_ids=full).logits[0].float() / 0.7).log_softmax(-1)
            ref = lp[len(c.prompt_ids) - 1 : -1].gather(-1, torch.tensor(c.token_ids)[:, None]).squeeze(-1)
            assert torch.allclose(ref, torch.tensor(c.logprobs), atol=1e-4)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_learner_step_moves_policy_not_reference(base_model, ids, checkpointing):
    base, _ = base_model
    policy, tok = lora_model(base_model)
    if checkpointing:
        policy = prepare_policy(policy, ModelConfig(path="base", lora=LORA, gradient_checkpointing=True))
        inner = policy.get_base_model()
        assert getattr(inner, "is_activation_checkpointing", None) or inner.is_gradient_checkpointing
    ref = build_reference(policy, "copy")
    task = get_task("tidy")
    task.partial_credit = True
    groups = collect_groups(HFSampler(policy, tok), task, task.problems("train", 3), [task.seed_prompt], 4,
                            SamplingParams(max_new_tokens=10, seed=0))
    assign(groups)
    frozen = {n: p.detach().clone() for n, p in policy.named_parameters() if not p.requires_grad}
    adapter = {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}
    learner = Learner(policy, LearnerConfig(lr=1e-2, warmup_steps=0, kl_coef=0.01), ref_model=ref,
                      pad_id=tok.pad_token_id)
    metrics = learner.step(groups)
    assert metrics["grad_norm"] > 0 and "kl_k3" in metrics
    assert any(not torch.equal(p, adapter[n]) for n, p in policy.named_parameters() if p.requires_grad)
    assert all(torch.equal(p, frozen[n]) for n, p in policy.named_parameters() if not p.requires_grad)
    assert not torch.allclose(logits(policy, ids), logits(base, ids), atol=1e-5)
    assert torch.equal(logits(ref, ids), logits(base, ids))


def run_config(out, steps=4, **model):
    return parse_config({
        "mode": "rl", "seed": 1, "output_dir": str(out), "steps": steps,
        "model": {"path": "base", "lora": LORA, **model},
        "task": {"name": "tidy", "partial_credit": True},
        "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
        "learner": {"lr": 5e-3},
        "eval": {"every": 2, "problems": 4, "k": 2, "kl_problems": 2},
        "checkpoint": {"every": 2, "keep": 2},
    })


def comparable(records):
    return [{k: v for k, v in r.items() if not k.startswith("time")} for r in records]


def trainable(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_lora_run_checkpoints_resumes_and_exports_merged(tmp_path, monkeypatch, ids):
    done = Trainer(run_config(tmp_path / "a"))
    done.run(progress=False)
    records = read_jsonl(tmp_path / "a" / "metrics.jsonl")
    assert any(r["kind"] == "train" and "kl_k3" in r for r in records)
    assert all("kl_to_base" in r for r in records if r["kind"] == "eval")
    ckpt = complete_checkpoints(tmp_path / "a" / "checkpoints")[-1] / "policy"
    assert (ckpt / "adapter_model.safetensors").is_file() and not (ckpt / "model.safetensors").is_file()

    # resume restores the adapter bitwise
    again = Trainer(run_config(tmp_path / "a"))
    assert again.resume() == 4
    want, got = trainable(done.learner.policy), trainable(again.learner.policy)
    assert want.keys() == got.keys() and all(torch.equal(want[n], got[n]) for n in want)

    # crash after the step-2 checkpoint, resume: the same run as the uninterrupted one
    crashing = Trainer(run_config(tmp_path / "b"))
    original = crashing.rl_step

    def dies(*a, **k):
        if crashing.step == 3:
            raise RuntimeError("simulated crash")
        return original(*a, **k)

    monkeypatch.setattr(crashing, "rl_step", dies)
    with pytest.raises(RuntimeError):
        crashing.run(progress=False)
    resumed = Trainer(run_config(tmp_path / "b"))
    assert resumed.resume() == 2
    resumed.run(progress=False)
    assert comparable(read_jsonl(tmp_path / "b" / "metrics.jsonl")) == comparable(records)

    # merged export: a plain model folder whose logits equal the LoRA policy's
    merged, _ = load_model(str(tmp_path / "a" / "final"))
    assert not is_peft(merged) and (tmp_path / "a" / "final" / "model.safetensors").is_file()
    policy = done.learner.policy.eval()
    assert torch.allclose(logits(merged, ids), logits(policy, ids), atol=1e-5)
    assert not torch.allclose(logits(merged, ids), logits(load_model("base")[0], ids), atol=1e-6)


def test_adapter_export_and_reference_none(tmp_path, ids):
    t = Trainer(run_config(tmp_path, steps=2, export="adapter", reference="none"))
    assert t.base is None and t.learner.ref_model is None
    history = t.run(progress=False)
    assert not any("kl_k3" in r or "kl_to_base" in r for r in history)
    final = tmp_path / "final"
    assert (final / "adapter_config.json").is_file() and not (final / "model.safetensors").is_file()
    loaded, tok = load_model(str(final))  # the base named in adapter_config.json, adapter merged in
    assert not is_peft(loaded) and tok.chat_template
    assert torch.allclose(logits(loaded, ids), logits(t.learner.policy.eval(), ids), atol=1e-5)
