"""mode fst-distill on engine: trl equals engine: native (issue 22): the same reverse-KL loss and gradient on the
same student completions, for every aggregation and both teacher contexts; and a TRL run end to end (GEPA rounds
through the shared fast channel, a frozen teacher snapshotted per cycle or an EMA teacher, no step without signal).

Tolerance as tests/test_trl_equivalence.py: loss within rel 1e-4, every parameter's gradient within rtol 1e-4 plus
1e-6 x the total gradient norm (fp32 on CPU, the two engines sum the same terms in different orders)."""

import copy

import pytest
import torch

from fastslow.config import parse_config

trl = pytest.importorskip("trl")

G, K = 4, 2
SEED = "Transform the input."
TEACHERS = ["Sort the letters of the input.", "Reverse the string."]


def make_cfg(tmp_path, aggregation="prompt", **distill):
    return parse_config({
        "mode": "fst-distill", "engine": "trl", "model": "base", "output_dir": str(tmp_path / "run"), "steps": 1,
        "task": {"name": "tidy"}, "distill": distill,
        "rollout": {"problems_per_step": 2, "group_size": G, "max_new_tokens": 12},
        "learner": {"lr": 1e-3, "warmup_steps": 1, "aggregation": aggregation},
        "population": {"size": K, "cycle_steps": 1, "budget": 0},
        "eval": {"problems": 2, "k": 1, "kl_problems": 0}, "checkpoint": {"every": 5}})


@pytest.mark.parametrize("aggregation", ["prompt", "token", "sequence", "constant"])
@pytest.mark.parametrize("teacher_prompt", ["lead", "population"])
def test_trl_distill_loss_and_gradient_equal_the_native_ones(base_model, tmp_path, aggregation, teacher_prompt):
    from fastslow.build import build_tasks
    from fastslow.fastweights.cache import RolloutCache
    from fastslow.integrations.trl import build_trl_trainer
    from fastslow.rl.distill import DistillSample, distill_loss
    from fastslow.rl.distill_phase import encode
    from fastslow.rl.learner import learner_config
    from fastslow.rl.rollouts import collect_groups
    from fastslow.sampling import HFSampler, SamplingParams

    model, tok = base_model
    cfg = make_cfg(tmp_path, aggregation, teacher_prompt=teacher_prompt)
    task = build_tasks(cfg)[0]
    problems = list(task.problems("train", 2))
    groups = collect_groups(HFSampler(model, tok), task, problems, [SEED], G,
                            SamplingParams(temperature=1.0, max_new_tokens=12, seed=5))
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    contexts = TEACHERS[:1] if teacher_prompt == "lead" else TEACHERS
    # native: distill_loss on the student's completions, slot j towards teacher context j mod their number
    samples = [DistillSample(list(r.prompt_ids), encode(tok, task.render(g.problem, contexts[j % len(contexts)])),
                             list(r.token_ids), i)
               for i, g in enumerate(groups) for j, r in enumerate(g.rollouts)]
    native_model = copy.deepcopy(model)
    native = distill_loss(native_model, teacher, samples, tok.pad_token_id, 1.0, aggregation, 16,
                          backward=lambda loss: loss.backward(), max_len=learner_config(cfg).max_completion_len)
    native_grads = {n: p.grad for n, p in native_model.named_parameters() if p.grad is not None}
    # trl: the same completions served to the rollout function from the cache, the same teacher
    trl_model = copy.deepcopy(model)
    trainer, engine = build_trl_trainer(cfg, policy=trl_model, tokenizer=tok, reflector=object(), tasks=[task])
    assert engine.distill and not engine.kl_in_step
    engine.channel.population = list(TEACHERS)
    engine.teacher.model = teacher
    engine.channel.cache = RolloutCache(0)
    for g in groups:
        for r in g.rollouts:
            r.cycle = 0
            engine.cache.add(r)
    rows = [dict(r) for r in trainer.train_dataset for _ in range(G)]
    trainer.model.train()
    out = trainer._generate_and_score_completions(rows)
    assert len(engine.cache) == 0  # every slot sampled under the student's context came from the fixed batch
    loss = trainer.compute_loss(trainer.model, out)
    loss.backward()
    assert abs(loss.item() - native["loss"]) <= 1e-4 * abs(native["loss"]) + 1e-6 and native["loss"] > 0
    trl_grads = {n: p.grad for n, p in trl_model.named_parameters() if p.grad is not None}
    assert set(trl_grads) == set(native_grads)
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in native_grads.values())).item()
    for name, g in native_grads.items():
        assert torch.allclose(trl_grads[name], g, rtol=1e-4, atol=1e-6 * norm), name
    metrics = trainer.fst_step_metrics()
    assert abs(metrics["distill_kl"] - native["kl"]) <= 1e-4 * native["kl"] and "skipped" not in metrics


@pytest.mark.parametrize("distill", [{"teacher": "frozen", "teacher_prompt": "lead", "student_prompt": "seed"},
                                     {"teacher": "ema", "teacher_prompt": "population", "student_prompt": "none"}])
def test_trl_fst_distill_runs_gepa_rounds_and_distils(tiny_model_dir, tmp_path, distill, monkeypatch):
    """The native end-to-end test's checks (tests/test_distill.py::test_mode_fst_distill_runs_gepa_rounds_and_distils)
    on engine: trl: the GEPA rounds of the shared fast channel move the teacher's contexts, the KL is zero exactly
    when every teacher context is the student's own, no signal means no step, and the teacher is snapshotted per
    cycle (frozen) or made once and then follows the student (EMA)."""
    from helpers import HintReflector

    from fastslow.integrations.trl import build_trl_trainer
    from fastslow.rl.teacher import Teacher

    cfg = parse_config({"mode": "fst-distill", "engine": "trl", "model": str(tiny_model_dir),
                        "output_dir": str(tmp_path), "steps": 4, "task": {"name": "tidy"}, "distill": distill,
                        "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
                        "learner": {"lr": 1e-2, "warmup_steps": 0},
                        "population": {"size": 2, "cycle_steps": 2, "anchor_size": 2, "budget": 4},
                        "eval": {"every": 4, "problems": 2, "k": 1, "kl_problems": 0},
                        "checkpoint": {"every": 10}})
    snapshots = []
    refresh = Teacher.refresh
    monkeypatch.setattr(Teacher, "refresh", lambda self, policy: (refresh(self, policy), snapshots.append(self.model)))
    trainer, engine = build_trl_trainer(cfg, reflector=HintReflector())
    w0 = next(trainer.model.parameters()).detach().clone()
    trainer.train()
    history = engine.history
    train = [h for h in history if h["kind"] == "train"]
    rounds = [h for h in history if h["kind"] == "gepa"]
    assert len(rounds) == 2 and len(train) == 4
    student = SEED if distill["student_prompt"] == "seed" else ""
    for h in train:
        population = rounds[(h["step"] - 1) // 2]["population"]
        teachers = population[:1] if distill["teacher_prompt"] == "lead" else population
        assert (h["distill_kl"] > 0) == any(t != student for t in teachers), (h["distill_kl"], teachers)
        assert (h.get("skipped") == 1.0) == (h["distill_kl"] < 1e-6)
    moved = not torch.equal(next(trainer.model.parameters()), w0)
    assert moved == any(h["distill_kl"] >= 1e-6 for h in train)  # no signal, no step
    if distill["teacher"] == "frozen":  # a new snapshot at each cycle's start
        assert len(snapshots) == 2 and snapshots[0] is not snapshots[1]
    else:  # one EMA teacher, following the student
        assert len(snapshots) == 2 and snapshots[0] is snapshots[1] and moved
        assert not torch.equal(next(snapshots[0].parameters()), w0)
