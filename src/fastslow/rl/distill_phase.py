"""``mode: fst-distill``: the slow step of a training run, with the same data stream, GEPA rounds and budgets as FST.

Each step takes the next batch of B problems; the student (the policy under the seed prompt, or under no system
prompt) samples G completions per problem, on-policy; each completion is then scored by the teacher (frozen or EMA,
``fastslow.rl.teacher``) under the lead prompt, or under population prompt j mod K for its j-th completion (the G/K
split of FST's groups); one optimizer step of the exact reverse KL follows (``fastslow.rl.distill``). The reward of
the student's completions is logged (``reward_mean``, ``train_accuracy``) but never trained on: only the prompts,
through the teacher, raise reward, as in the paper's variant.

The interface to the trainer is narrow on purpose: ``begin_cycle(policy)`` after a GEPA round and
``step(trainer)`` in place of an RL step, so it can move behind a shared fast channel unchanged.
"""

from __future__ import annotations

import time

from fastslow.rl.distill import DistillSample, distill_step
from fastslow.rl.teacher import Teacher
from fastslow.sampling.factory import before_update, sync_policy
from fastslow.tasks.base import safe_score


def encode(tokenizer, messages, chat_template_kwargs: dict | None = None) -> list[int]:
    """Chat messages as the token ids the samplers prefill (the model's chat template, generation prompt on)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                         **(chat_template_kwargs or {}))
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def student_context(task, student_prompt: str) -> str:
    """The student's system prompt: the task's seed prompt, or none."""
    if student_prompt not in ("seed", "none"):
        raise ValueError(f"distill.student_prompt must be 'seed' or 'none', got {student_prompt!r}")
    return task.seed_prompt if student_prompt == "seed" else ""


def teacher_contexts(population, teacher_prompt: str) -> list[str]:
    """The teacher's system prompts, used in turn over a problem's completions: the lead prompt, or all of them."""
    if teacher_prompt not in ("lead", "population"):
        raise ValueError(f"distill.teacher_prompt must be 'lead' or 'population', got {teacher_prompt!r}")
    return [population[0]] if teacher_prompt == "lead" else list(population)


def build_samples(sampler, tokenizer, task, problems, student_prompt: str, teacher_prompts: list[str],
                  group_size: int, params, chat_template_kwargs: dict | None = None) -> tuple[list, list]:
    """(distillation samples, the student's completions [problem][j]): G on-policy completions per problem under
    the student's context, each paired with its teacher context."""
    completions = sampler.sample([task.render(p, student_prompt) for p in problems], params, n=group_size)
    samples = []
    for i, (problem, row) in enumerate(zip(problems, completions)):
        teacher_ids = [encode(tokenizer, task.render(problem, t), chat_template_kwargs) for t in teacher_prompts]
        for j, c in enumerate(row):
            samples.append(DistillSample(c.prompt_ids, teacher_ids[j % len(teacher_ids)], list(c.token_ids), i))
    return samples, completions


class DistillPhase:
    """The slow step of ``mode: fst-distill`` (see the module docstring)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.teacher = Teacher(cfg.distill.teacher, cfg.distill.ema_decay)

    def begin_cycle(self, policy) -> None:
        """A GEPA round has just moved the prompts: a frozen teacher snapshots the current weights."""
        self.teacher.refresh(policy)

    def step(self, trainer) -> dict:
        cfg, D = self.cfg, self.cfg.distill
        if self.teacher.model is None:  # e.g. resumed mid-cycle: the snapshot is taken from the restored weights
            self.teacher.refresh(trainer.learner.policy)
        task, problems = trainer.task, trainer.stream.next()
        timings: dict[str, float] = {}
        start = time.perf_counter()
        samples, completions = build_samples(
            trainer.sampler, trainer.tokenizer, task, problems, student_context(task, D.student_prompt),
            teacher_contexts(trainer.population, D.teacher_prompt), cfg.rollout.group_size,
            trainer.rollout_params(1), cfg.model.chat_template_kwargs)
        timings["generation"] = time.perf_counter() - start
        scores = [safe_score(task, p, c.text) for p, row in zip(problems, completions) for c in row]
        start = time.perf_counter()
        before_update(trainer.sampler)
        metrics = distill_step(trainer.learner, self.teacher.model, samples, cfg.learner.aggregation)
        timings["learning"] = time.perf_counter() - start
        timings.update({f"learner_{k}": v for k, v in trainer.learner.timings.items()})
        start = time.perf_counter()
        if sync_policy(trainer.sampler, trainer.learner.policy):
            timings["weight_sync"] = time.perf_counter() - start
        self.teacher.update(trainer.learner.policy)
        trainer.counts["rl_rollouts"] += len(scores)
        trainer.counts["verifier_errors"] += sum(failed for _, failed in scores)
        return {"reward_mean": sum(s.reward for s, _ in scores) / len(scores),
                "train_accuracy": sum(s.success for s, _ in scores) / len(scores), **metrics,
                **{f"time_{k}": v for k, v in timings.items()}}
