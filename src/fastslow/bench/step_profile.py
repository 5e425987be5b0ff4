"""Where an RL step's time goes: ``StepProfile`` wraps a ``Trainer``'s parts (sampling, scoring, the learner's
forward and backward, the GEPA round) with clocks, changing nothing in the training code. On a GPU every clock read
waits for the queued kernels (``rl_step.sync``), so no phase is billed another's kernels. Used by
``fst bench step-time`` (``fastslow.bench.step_time``)."""

from __future__ import annotations

import functools
import time
import types
from collections import defaultdict
from contextlib import contextmanager

from fastslow.bench.rl_step import sync
from fastslow.trainer import Trainer


class StepProfile:
    """Seconds per phase, split by context ("rl": inside RL steps, "gepa": inside GEPA rounds).

    Phases: generation (sampler calls), scoring (the verifier), learner_forward (policy log-probs),
    reference_forward (the frozen base model's log-probs for the KL log), backward, optimizer (clip, step),
    learner_other (packing, loss, metrics), reflection (the reflector), gepa_bookkeeping (the rest of a round:
    the ``gepa`` engine, state saves, ranking), rl_other (the rest of an RL step: grouping, advantages, logging).
    Wrapping is by instance attribute or module global, so it measures the code as it is."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.context = "rl"
        self.active = False  # inside this trainer's step, round or evaluation (module-level wraps are shared)
        self._undo: list = []

    @contextmanager
    def _timed(self, phase: str):
        sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            sync()
            self.seconds[self.context][phase] += time.perf_counter() - start

    def _wrap(self, owner, name: str, phase, context: str | None = None) -> None:
        """Time ``owner.name`` under ``phase`` (a name, or a function of the call's arguments)."""
        original = getattr(owner, name, None)
        if original is None:
            return
        profile = self

        shared = isinstance(owner, types.ModuleType)  # several arms' profiles wrap the same module global

        @functools.wraps(original)  # keeps the signature visible (e.g. the sampler's per-row ``seeds``)
        def wrapper(*args, **kwargs):
            if shared and not profile.active:  # another arm's call
                return original(*args, **kwargs)
            previous, was_active = profile.context, profile.active
            if context is not None:
                profile.context, profile.active = context, True
            try:
                with profile._timed(phase(*args, **kwargs) if callable(phase) else phase):
                    return original(*args, **kwargs)
            finally:
                profile.context, profile.active = previous, was_active

        had = name in vars(owner) if hasattr(owner, "__dict__") else False
        setattr(owner, name, wrapper)
        self._undo.append((owner, name, original, had))

    def install(self) -> StepProfile:
        import fastslow.rl.learner as learner_mod
        import fastslow.rl.rollouts as rollouts_mod

        t, learner = self.trainer, self.trainer.learner
        self._wrap(t, "gepa_round", "total", context="gepa")
        self._wrap(t, "rl_step", "total", context="rl")
        self._wrap(t, "evaluate", "total", context="eval")
        self._wrap(t.sampler, "sample", "generation")
        self._wrap(rollouts_mod, "safe_score", "scoring")
        if hasattr(learner, "timings"):  # the learner times its own parts: read them after every step
            self._wrap_learner_step(learner)
        else:
            ref = learner.ref_model
            self._wrap(learner_mod, "completion_logits",
                       lambda model, *a, **k: "reference_forward" if model is ref else "learner_forward")
            self._wrap(learner.accelerator, "backward", "backward")
            self._wrap(learner.accelerator, "clip_grad_norm_", "optimizer")
            self._wrap(learner.optimizer, "step", "optimizer")
            self._wrap(learner, "step", "learner_total")
        if t.reflector is not None:
            self._wrap(t.reflector, "propose", "reflection")
        return self

    def _wrap_learner_step(self, learner) -> None:
        names = {"forward": "learner_forward", "ref_forward": "reference_forward", "backward": "backward",
                 "optimizer": "optimizer"}
        profile = self

        def after(groups, *args, **kwargs):
            learner.timings = {}
            metrics = original(groups, *args, **kwargs)
            for key, value in learner.timings.items():
                profile.seconds[profile.context][names.get(key, key)] += value
            return metrics

        original = learner.step
        learner.step = after
        self._undo.append((learner, "step", original, False))
        self._wrap(learner, "step", "learner_total")

    def remove(self) -> None:
        for owner, name, original, had in reversed(self._undo):
            if had or not hasattr(owner, "__dict__"):
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self._undo.clear()

    def breakdown(self, steps: int) -> dict[str, dict[str, float]]:
        """Seconds per RL step for each phase (GEPA phases amortised over the run's steps)."""
        out = {}
        for context, s in self.seconds.items():
            s = dict(s)
            known = {k: v for k, v in s.items() if k not in ("total", "learner_total")}
            if context == "eval":
                continue
            if context == "rl":
                learner_parts = sum(known.get(k, 0.0) for k in ("learner_forward", "reference_forward", "backward",
                                                                 "optimizer"))
                known["learner_other"] = s.get("learner_total", 0.0) - learner_parts
                known["rl_other"] = s.get("total", 0.0) - s.get("learner_total", 0.0) - known.get("generation", 0.0) \
                    - known.get("scoring", 0.0)
            else:
                known["gepa_bookkeeping"] = s.get("total", 0.0) - sum(known.values())
            known["total"] = s.get("total", 0.0)
            out[context] = {k: v / steps for k, v in sorted(known.items())}
        return out
