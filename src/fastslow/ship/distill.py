"""``fst distill RUN``: bake a finished FST run's evolved prompt into its weights.

The same reverse-KL loss as ``mode: fst-distill`` (``fastslow.rl.distill``), started from the run's final weights:
the teacher is those weights, frozen, under the lead prompt (or each population prompt in turn); the student is a
trainable copy under no system prompt (or the seed prompt), sampling its own completions on the run's train
stream. It stops after ``steps`` steps, or earlier once the token-mean KL of a step falls below ``kl_target`` (the
student then behaves under its context as the teacher does under the prompt).

The report says what it bought and what it cost, on the run's validation problems and on the held-out
instruction-following suite (``fastslow.evaluation.forgetting``): accuracy under the student's context and under
the lead prompt, before and after, and the suite's accuracy before and after.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch

from fastslow.config import ConfigError, parse_config
from fastslow.data import ProblemStream
from fastslow.errors import FastSlowError
from fastslow.evaluation.accuracy import evaluate
from fastslow.rl.distill import distill_loss, distill_step
from fastslow.rl.distill_phase import build_samples, student_context, teacher_contexts
from fastslow.rl.learner import Learner, LearnerConfig
from fastslow.sampling import HFSampler, SamplingParams


class RunFolderError(FastSlowError):
    """A run folder lacks what a command needs (its config, final weights or population)."""


def read_run(run: Path) -> tuple:
    """(config, final weights folder, population) of a finished run, with a clear error for what is missing."""
    run = Path(run)
    if not (run / "config.json").is_file():
        raise RunFolderError(f"{str(run)!r} is not a fastslow run folder: it has no config.json (the output_dir "
                             "of `fst run`)")
    final = run / "final"
    if not (final / "population.json").is_file():
        raise RunFolderError(f"run {str(run)!r} has not finished: {str(final)!r} holds no population.json (the "
                             "final weights and population are written when the run ends)")
    cfg = parse_config(json.loads((run / "config.json").read_text()), str(run / "config.json"))
    population = json.loads((final / "population.json").read_text())
    if not population or not all(isinstance(p, str) for p in population):
        raise RunFolderError(f"{str(final / 'population.json')!r}: expected a non-empty list of prompts")
    return cfg, final, population


def single_task(cfg):
    from fastslow.trainer import build_tasks

    tasks = build_tasks(cfg)
    if len(tasks) != 1:
        raise ConfigError(f"fst distill works on single-task runs; this run has a task stream of {len(tasks)} "
                          "tasks (task.stream)")
    return tasks[0]


def instruction_following(model, tokenizer, n_problems: int, max_new_tokens: int = 64) -> float:
    """The forgetting suite of ``fastslow.evaluation.forgetting`` on an in-memory model (greedy)."""
    from fastslow.rulebook import InstructionSuite

    suite = InstructionSuite()
    params = SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens)
    return evaluate(HFSampler(model, tokenizer), suite, suite.problems("test", n_problems), "", params).mean


def measure(model, tokenizer, task, val, contexts: dict, params, k: int, forgetting_problems: int,
            teacher=None) -> dict:
    """Validation accuracy (mean@k) under each named context, the token-mean KL of the model under the student's
    context to the teacher under the lead prompt (on its own samples of 16 validation problems), and the forgetting
    suite's accuracy."""
    sampler = HFSampler(model, tokenizer)
    out = {f"accuracy_{name}": evaluate(sampler, task, val, prompt, params, k=k).mean
           for name, prompt in contexts.items()}
    if teacher is not None:
        samples, _ = build_samples(sampler, tokenizer, task, val[:16], contexts["student"], [contexts["lead"]], 1,
                                   params)
        with torch.no_grad():
            out["kl_to_teacher"] = distill_loss(model, teacher, samples, tokenizer.pad_token_id)["kl"]
    if forgetting_problems:
        out["instruction_following"] = instruction_following(model, tokenizer, forgetting_problems)
    return out


def distill_run(run: Path, out: Path, steps: int = 60, lr: float | None = None, student_prompt: str = "none",
                teacher_prompt: str = "lead", kl_target: float | None = None, eval_problems: int | None = None,
                forgetting_problems: int = 150, seed: int | None = None, log=print) -> dict:
    """Distil ``run``'s final weights under its lead prompt into the same weights under ``student_prompt``; save the
    result to ``out`` (a model folder with population.json and distill.json) and return the report."""
    from fastslow.checkpoint import export_policy
    from fastslow.model.base import load_model
    from fastslow.model.lora import prepare_policy
    from fastslow.trainer import derived_seed, seed_everything

    cfg, final, population = read_run(run)
    seed = cfg.seed if seed is None else seed
    seed_everything(seed)
    torch.set_num_threads(cfg.threads)
    task = single_task(cfg)
    teacher, tokenizer = load_model(final)  # an adapter-only final/ is merged into its base here
    teacher.requires_grad_(False)
    student = prepare_policy(copy.deepcopy(teacher).requires_grad_(True), cfg.model)  # the run's LoRA, if any
    L = cfg.learner
    learner = Learner(student, LearnerConfig(lr=lr or L.lr, warmup_steps=L.warmup_steps, weight_decay=L.weight_decay,
                                             grad_clip=L.grad_clip, micro_batch_size=L.micro_batch_size,
                                             temperature=cfg.rollout.temperature), pad_id=tokenizer.pad_token_id)
    sampler = HFSampler(learner.policy, tokenizer, chat_template_kwargs=cfg.model.chat_template_kwargs)
    val = task.problems("val", eval_problems or cfg.eval.problems)
    own = student_context(task, student_prompt)
    contexts = {"student": own, "lead": population[0]}
    ev = SamplingParams(temperature=cfg.eval.temperature, top_p=cfg.eval.top_p,
                        max_new_tokens=cfg.rollout.max_new_tokens, seed=derived_seed(seed, 0, 2))
    log(f"measuring the run's final weights ({len(val)} validation problems, k={cfg.eval.k})")
    before = measure(teacher, tokenizer, task, val, contexts, ev, cfg.eval.k, forgetting_problems, teacher)
    stream = ProblemStream(task, cfg.rollout.problems_per_step, seed=seed + 1)  # a fresh pass over the train split
    teachers = teacher_contexts(population, teacher_prompt)
    history, start = [], time.perf_counter()
    for step in range(steps):
        params = SamplingParams(temperature=cfg.rollout.temperature, top_p=cfg.rollout.top_p,
                                max_new_tokens=cfg.rollout.max_new_tokens, seed=derived_seed(seed, step, 1))
        samples, _ = build_samples(sampler, tokenizer, task, stream.next(), own, teachers, cfg.rollout.group_size,
                                   params, cfg.model.chat_template_kwargs)
        metrics = distill_step(learner, teacher, samples, L.aggregation)
        history.append({"step": step + 1, **{k: metrics[k] for k in ("distill_kl", "entropy", "grad_norm", "lr")}})
        log(f"step {step + 1}: KL to the teacher {metrics['distill_kl']:.4f}")
        if kl_target is not None and metrics["distill_kl"] < kl_target:
            break
    seconds = time.perf_counter() - start
    after = measure(learner.policy, tokenizer, task, val, contexts, ev, cfg.eval.k, forgetting_problems,
                    teacher)
    out = Path(out)
    export_policy(learner.policy, tokenizer, out, "merged")
    (out / "population.json").write_text(json.dumps(population, indent=2))
    report = {
        "run": str(run), "task": task.name, "student_context": student_prompt, "student_prompt": own,
        "teacher_context": teacher_prompt, "lead_prompt": population[0], "steps": len(history), "seconds": seconds,
        "settings": {"max_steps": steps, "lr": lr or L.lr, "kl_target": kl_target, "seed": seed,
                     "eval_problems": len(val), "k": cfg.eval.k, "forgetting_problems": forgetting_problems},
        "before": before, "after": after, "kl_first": history[0]["distill_kl"] if history else None,
        "kl_last": history[-1]["distill_kl"] if history else None, "history": history,
    }
    (out / "distill.json").write_text(json.dumps(report, indent=2))
    return report
