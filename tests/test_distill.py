"""FST-distill's reverse-KL loss on the shipped base model, the teacher, and mode fst-distill end to end."""

import copy

import pytest
import torch

from fastslow.config import ConfigError, parse_config
from fastslow.rl.distill import DistillSample, distill_loss, reverse_kl_tokens
from fastslow.rl.distill_phase import encode
from fastslow.rl.teacher import Teacher
from fastslow.tasks import load_task


def _samples(tok, student_prompt, teacher_prompt, n=3):
    """Completions sampled from the base model under ``student_prompt``, paired with ``teacher_prompt``."""
    task = load_task("rulebook/mirror")
    problems = task.problems("train", n)
    completions = [tok("O U T : a b c", add_special_tokens=False)["input_ids"][: 4 + i] for i in range(n)]
    return [DistillSample(encode(tok, task.render(p, student_prompt)), encode(tok, task.render(p, teacher_prompt)),
                          c, i) for i, (p, c) in enumerate(zip(problems, completions))]


def test_exact_kl_matches_a_direct_computation():
    s, t = torch.randn(2, 3, 7), torch.randn(2, 3, 7)
    p, q = s.softmax(-1), t.softmax(-1)
    assert torch.allclose(reverse_kl_tokens(s, t), (p * (p.log() - q.log())).sum(-1), atol=1e-6)
    assert torch.allclose(reverse_kl_tokens(s, s), torch.zeros(2, 3), atol=1e-7)


def test_loss_and_gradient_are_zero_when_contexts_are_equal(base_model):
    model, tok = base_model
    student = copy.deepcopy(model).train()
    teacher = copy.deepcopy(model).eval()
    same = _samples(tok, "Transform the input.", "Transform the input.")
    out = distill_loss(student, teacher, same, tok.pad_token_id, backward=lambda loss: loss.backward())
    grad = torch.sqrt(sum((p.grad ** 2).sum() for p in student.parameters() if p.grad is not None))
    assert out["loss"] == 0.0 and float(grad) == 0.0  # exactly: Adam would turn rounding noise into a full step
    student.zero_grad()
    other = _samples(tok, "Transform the input.", "Reverse the string.")  # a different teacher context
    out = distill_loss(student, teacher, other, tok.pad_token_id, backward=lambda loss: loss.backward())
    grad = torch.sqrt(sum((p.grad ** 2).sum() for p in student.parameters() if p.grad is not None))
    assert out["loss"] > 1e-3 and float(grad) > 1e-3


def _rms_norm_in_own_dtype(self, hidden_states):
    """Qwen3's RMSNorm computes in float32 whatever the input dtype; float64 throughout keeps the finite
    differences exact to ~1e-10 (the same maths, only the precision differs)."""
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def test_gradient_matches_finite_differences(base_model, monkeypatch):
    """Directional derivative along a random unit direction, autograd vs central differences, in float64."""
    from transformers.models.qwen3 import modeling_qwen3

    monkeypatch.setattr(modeling_qwen3.Qwen3RMSNorm, "forward", _rms_norm_in_own_dtype)
    model, tok = base_model
    student = copy.deepcopy(model).double().train()
    teacher = copy.deepcopy(model).double().eval()
    samples = _samples(tok, "", "Reverse the string.")
    def loss():
        return distill_loss(student, teacher, samples, tok.pad_token_id)["loss"]
    distill_loss(student, teacher, samples, tok.pad_token_id, backward=lambda x: x.backward())
    gen = torch.Generator().manual_seed(0)
    params = [p for p in student.parameters()]
    direction = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
    norm = torch.sqrt(sum((d ** 2).sum() for d in direction))
    direction = [d / norm for d in direction]  # a unit step, so eps is the step's length
    analytic = sum((p.grad * d).sum() for p, d in zip(params, direction)).item()
    eps = 1e-4
    with torch.no_grad():
        for p, d in zip(params, direction):
            p.add_(eps * d)
        up = loss()
        for p, d in zip(params, direction):
            p.add_(-2 * eps * d)
        down = loss()
        for p, d in zip(params, direction):
            p.add_(eps * d)
    numeric = (up - down) / (2 * eps)
    assert abs(analytic) > 1e-4
    assert numeric == pytest.approx(analytic, rel=1e-6)


def test_teacher_frozen_snapshot_and_ema(base_model):
    model, _ = base_model
    student = copy.deepcopy(model)
    frozen, ema = Teacher("frozen"), Teacher("ema", ema_decay=0.5)
    frozen.refresh(student)
    ema.refresh(student)
    w0 = next(student.parameters()).detach().clone()
    with torch.no_grad():
        next(student.parameters()).add_(1.0)
    frozen.update(student)
    ema.update(student)
    assert torch.equal(next(frozen.model.parameters()), w0)  # frozen within a cycle
    assert torch.allclose(next(ema.model.parameters()), w0 + 0.5)  # halfway to the student
    ema.refresh(student)  # an EMA teacher is not re-snapshotted at a cycle start
    assert torch.allclose(next(ema.model.parameters()), w0 + 0.5)
    frozen.refresh(student)
    assert torch.equal(next(frozen.model.parameters()), w0 + 1.0)
    assert not any(p.requires_grad for p in frozen.model.parameters())


def test_distill_section_is_validated():
    with pytest.raises(ConfigError, match="distill.teacher"):
        parse_config({"mode": "fst-distill", "distill": {"teacher": "average"}})


def test_fst_distill_bakes_the_prompt_in(tmp_path):
    """`fst distill` on a tiny run: accuracy with no system prompt rises towards the teacher's (under the lead
    prompt), and the KL to the teacher falls."""
    import json

    from ship_runs import tiny_gepa_run

    from fastslow.ship.distill import distill_run

    run = tiny_gepa_run(tmp_path / "run")
    assert json.loads((run / "final" / "population.json").read_text())[0] != "Transform the input."
    report = distill_run(run, tmp_path / "distilled", steps=12, lr=1e-3, eval_problems=16, forgetting_problems=0,
                         log=lambda _: None)
    before, after = report["before"], report["after"]
    assert before["accuracy_lead"] > before["accuracy_student"] + 0.5  # the prompt carries the behaviour
    assert after["accuracy_student"] >= before["accuracy_student"] + 0.05
    assert after["kl_to_teacher"] < 0.8 * before["kl_to_teacher"]
    assert (tmp_path / "distilled" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "distilled" / "distill.json").read_text())["steps"] == 12


def test_fst_distill_names_a_missing_run(tmp_path):
    from fastslow.ship.distill import RunFolderError, distill_run

    with pytest.raises(RunFolderError, match="no config.json"):
        distill_run(tmp_path, tmp_path / "out")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(RunFolderError, match="has not finished"):
        distill_run(tmp_path, tmp_path / "out")


@pytest.mark.parametrize("distill", [{"teacher": "frozen", "teacher_prompt": "lead", "student_prompt": "seed"},
                                     {"teacher": "ema", "teacher_prompt": "population", "student_prompt": "none"}])
def test_mode_fst_distill_runs_gepa_rounds_and_distils(tiny_model_dir, tmp_path, distill):
    from helpers import HintReflector

    from fastslow.trainer import Trainer

    cfg = parse_config({"mode": "fst-distill", "model": str(tiny_model_dir), "output_dir": str(tmp_path), "steps": 4,
                        "task": {"name": "tidy"}, "distill": distill,
                        "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
                        "learner": {"lr": 1e-2, "warmup_steps": 0},
                        "population": {"size": 2, "cycle_steps": 2, "anchor_size": 2, "budget": 4},
                        "eval": {"every": 4, "problems": 2, "k": 1, "kl_problems": 0}})
    trainer = Trainer(cfg, reflector=HintReflector())
    w0 = next(trainer.learner.policy.parameters()).detach().clone()
    snapshots = []
    begin = trainer.distill.begin_cycle
    trainer.distill.begin_cycle = lambda policy: (begin(policy), snapshots.append(trainer.distill.teacher.model))
    history = trainer.run(progress=False)
    train = [h for h in history if h["kind"] == "train"]
    rounds = [h for h in history if h["kind"] == "gepa"]
    assert len(rounds) == 2 and len(train) == 4
    seed = "Transform the input."
    student = seed if distill["student_prompt"] == "seed" else ""
    for h in train:  # the KL is zero exactly when every teacher context is the student's own
        population = rounds[(h["step"] - 1) // 2]["population"]
        teachers = population[:1] if distill["teacher_prompt"] == "lead" else population
        assert (h["distill_kl"] > 0) == any(t != student for t in teachers), (h["distill_kl"], teachers)
    moved = not torch.equal(next(trainer.learner.policy.parameters()), w0)
    assert moved == any(h["distill_kl"] > 0 for h in train)  # no signal, no step (not Adam-scaled rounding noise)
    if distill["teacher"] == "frozen":  # a new snapshot at each cycle's start
        assert len(snapshots) == 2 and snapshots[0] is not snapshots[1]
    else:  # one EMA teacher, following the student
        assert snapshots[0] is snapshots[1] and moved
        assert not torch.equal(next(snapshots[0].parameters()), w0)


def test_no_step_when_teacher_and_student_agree_up_to_rounding(base_model):
    """A teacher that differs from the student only by rounding gives a KL of ~1e-12 and a gradient of noise, which
    Adam would scale to a full step: the step is skipped and the weights stay."""
    from fastslow.rl.distill import distill_step
    from fastslow.rl.learner import Learner, LearnerConfig

    model, tok = base_model
    learner = Learner(copy.deepcopy(model), LearnerConfig(lr=1e-3, warmup_steps=0), pad_id=tok.pad_token_id)
    teacher = copy.deepcopy(model).eval()
    with torch.no_grad():
        for p in teacher.parameters():
            p.mul_(1 + 1e-7)  # rounding-size differences
    before = [p.detach().clone() for p in learner.policy.parameters()]
    same = _samples(tok, "Transform the input.", "Transform the input.")
    metrics = distill_step(learner, teacher, same)
    assert 0 < metrics["distill_kl"] < 1e-6 and metrics["skipped"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, learner.policy.parameters()))
    other = _samples(tok, "Transform the input.", "Reverse the string.")
    assert "skipped" not in distill_step(learner, teacher, other)  # a real difference does take a step
    assert not all(torch.equal(a, b) for a, b in zip(before, learner.policy.parameters()))
