"""``FSTGRPOTrainer``, TRL's ``GRPOTrainer`` computing the native learner's objective: fastslow's advantages over
each whole group (one group per problem, all K prompts in it), the behaviour log-probs as the importance-weight
denominator, the registered loss (``fastslow.rl.loss_registry``), the k3 KL to fastslow's own reference (TRL's
``beta`` is 0), and fastslow's batch-wide token weights (``losses.token_weights``, totals over every process, rows
of dropped groups weighted 0). In mode fst-distill the objective is instead the native ``distill_loss``: the exact
reverse KL of the policy under the student's context to the teacher (``FSTEngine.teacher``, frozen per cycle or EMA)
under the teacher's contexts, on the student's own completions. The weights are fixed once per step on the whole
per-process batch, before TRL splits it into micro-batches for gradient accumulation, and each micro-batch's loss
is multiplied by the process count to undo the gradient mean over processes: the summed gradient is the native
learner's whatever the micro-batch size and the process count. Built by ``_trainer_class`` so that trl is imported
only when a trainer is built."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from fastslow.config import ConfigError
from fastslow.integrations.trl.engine import DEBUG_ENV, STATE_FILE, FSTEngine
from fastslow.integrations.trl.policy import full_model
from fastslow.rl.rollouts import ProblemGroup

SUMS = ("loss", "entropy", "clipped", "kl_k3", "ratio", "tokens", "distill_kl")


def _trainer_class():
    from trl import GRPOTrainer

    class FSTGRPOTrainer(GRPOTrainer):
        """``GRPOTrainer`` with FST's groups, advantages, loss, KL and aggregation (see the module docstring)."""

        def __init__(self, *args, engine: FSTEngine, **kwargs):
            from fastslow.rl.learner import learner_config
            from fastslow.rl.loss_registry import resolve_loss

            self.fst = engine
            self.fst_learner = learner_config(engine.cfg)
            self.fst_loss = resolve_loss(self.fst_learner.loss)
            self.fst_sums = dict.fromkeys(SUMS, 0.0)  # this process's metric sums over the current step
            self.fst_skip = False  # the step's groups all had zero variance: no optimizer step (as native)
            self._fst_inputs: list = []
            super().__init__(*args, **kwargs)

        def create_scheduler(self, num_training_steps: int, optimizer=None):
            # the native learner's warm-up: lr * min(1, (s + 1) / warmup), constant after
            if self.lr_scheduler is None:
                warmup = max(1, self.fst.cfg.learner.warmup_steps)
                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                    optimizer if optimizer is not None else self.optimizer, lambda s: min(1.0, (s + 1) / warmup))
                self._created_lr_scheduler = True
            return self.lr_scheduler

        def create_optimizer(self, *args, **kwargs):
            # the native learner's AdamW: weight decay on every trained parameter (transformers exempts biases and
            # norms), then a step that is skipped when no group has signal
            if self.optimizer is None:
                a = self.args
                self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad],
                                                   lr=a.learning_rate, betas=(a.adam_beta1, a.adam_beta2),
                                                   eps=a.adam_epsilon, weight_decay=a.weight_decay)
            optimizer = self.optimizer
            step = optimizer.step

            def fst_step(*a, **k):  # the native learner takes no optimizer step when no group has signal
                if self.fst.distill:  # ... and distill_step none when student and teacher agree up to rounding
                    from fastslow.rl.distill import MIN_KL

                    self.fst_skip = self.fst_sums_total("distill_kl") < MIN_KL
                return None if self.fst_skip else step(*a, **k)

            optimizer.step = fst_step
            return optimizer

        def _generate_and_score_completions(self, inputs):
            self._fst_inputs = inputs
            out = super()._generate_and_score_completions(inputs)
            out.update(self.fst_step_tensors(out))
            return out

        def fst_step_tensors(self, out: dict) -> dict:
            """Per-row advantages, behaviour and reference log-probs and the batch-wide token weights of this
            process's rows (the whole step, before TRL splits it into micro-batches)."""
            from fastslow.rl.advantages import assign, has_signal
            from fastslow.rl.losses import token_weights

            if self.fst.distill:
                return self.fst_distill_tensors(out)
            L, G = self.fst.cfg.learner, self.num_generations
            rollouts = self.fst.batch_rollouts
            groups = [ProblemGroup(rollouts[i].problem, rollouts[i : i + G]) for i in range(0, len(rollouts), G)]
            assign(groups, L.baseline, L.scale_by_std)
            keep = [has_signal(g) or not L.drop_zero_variance for g in groups]
            device, width = out["completion_ids"].device, out["completion_ids"].shape[1]
            mask, behaviour = torch.zeros((len(rollouts), width), device=device), torch.zeros((len(rollouts), width))
            for i, r in enumerate(rollouts):  # the rollout's own tokens, exactly as the native learner counts them
                mask[i, : len(r.token_ids)] = 1
                behaviour[i, : len(r.behaviour_logprobs)] = torch.tensor(r.behaviour_logprobs)
            behaviour = behaviour.to(device)
            row_keep = torch.tensor([k for k in keep for _ in range(G)], device=device)
            group_ids = torch.arange(len(groups), device=device).repeat_interleave(G)
            weights = token_weights(mask, group_ids, self.fst_loss.aggregation(L.aggregation),
                                    self.fst_learner.max_completion_len, keep=row_keep, total=self.fst_total)
            self.fst_skip = self.fst_total(row_keep.float().sum()).item() == 0
            result = {"advantages": torch.tensor([a for g in groups for a in g.advantages], device=device),
                      "fst_behaviour": behaviour, "fst_weights": weights}
            if self.fst.kl_in_step:
                result["fst_ref"] = self.fst_ref_logps(out)
            self.fst_record_rows(groups, keep)
            return result

        def fst_distill_tensors(self, out: dict) -> dict:
            """fst-distill: the batch-wide token weights of the reverse KL (``distill_loss``'s: learner.aggregation
            over problems, nothing dropped) and each row's teacher context, left-padded token ids (slot j of a
            group: teacher context j mod their number, as ``distill_phase.build_samples``)."""
            from fastslow.rl.distill_phase import encode
            from fastslow.rl.losses import token_weights

            eng, G, rows = self.fst, self.num_generations, self._fst_inputs
            if eng.teacher.model is None:  # resumed mid-cycle: the snapshot is taken from the restored weights
                with full_model(self) as model:
                    eng.teacher.refresh(model)
            rollouts, teachers = eng.batch_rollouts, eng.teacher_prompts()
            device, width = out["completion_ids"].device, out["completion_ids"].shape[1]
            mask = torch.zeros((len(rollouts), width), device=device)
            contexts, encoded = [], {}
            for i, r in enumerate(rollouts):
                mask[i, : len(r.token_ids)] = 1
                key = (rows[i]["fst_task"], r.problem.id, (i % G) % len(teachers))
                if key not in encoded:
                    task = eng.task_named(key[0])
                    encoded[key] = encode(self.processing_class, task.render(r.problem, teachers[key[2]]),
                                          eng.cfg.model.chat_template_kwargs)
                contexts.append(encoded[key])
            longest = max(len(c) for c in contexts)
            pad = self.processing_class.pad_token_id
            ids = torch.tensor([[pad] * (longest - len(c)) + c for c in contexts], device=device)
            context_mask = torch.tensor([[0] * (longest - len(c)) + [1] * len(c) for c in contexts], device=device)
            group_ids = torch.arange(len(rollouts) // G, device=device).repeat_interleave(G)
            weights = token_weights(mask, group_ids, eng.cfg.learner.aggregation, self.fst_learner.max_completion_len,
                                    total=self.fst_total)
            self.fst_skip = False  # decided at the optimizer step, on the step's KL (create_optimizer)
            return {"fst_weights": weights, "fst_teacher_ids": ids, "fst_teacher_mask": context_mask}

        def fst_distill_loss(self, model, inputs: dict) -> torch.Tensor:
            """fst-distill: the token-weighted exact reverse KL (``rl.distill.reverse_kl_tokens``) of the policy to
            the teacher, on this micro-batch; the teacher's logits without gradient."""
            from fastslow.rl.distill import reverse_kl_tokens

            logits = self.fst_token_logits(model, inputs)
            with torch.no_grad():
                teacher_rows = {"prompt_ids": inputs["fst_teacher_ids"], "prompt_mask": inputs["fst_teacher_mask"],
                                "completion_ids": inputs["completion_ids"],
                                "completion_mask": inputs["completion_mask"]}
                teacher_logits = self.fst_token_logits(self.fst.teacher.model, teacher_rows)
            kl = reverse_kl_tokens(logits, teacher_logits.to(logits.dtype))
            weights = inputs["fst_weights"]
            loss = (kl * weights).sum()
            with torch.no_grad():
                m = (weights != 0).float()
                entropies = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)
                s = self.fst_sums
                s["loss"] += loss.item()
                s["distill_kl"] += (kl * m).sum().item()
                s["entropy"] += (entropies * m).sum().item()
                s["tokens"] += m.sum().item()
            return loss * self.accelerator.num_processes

        def fst_total(self, x: torch.Tensor) -> torch.Tensor:
            """A scalar summed over every process of the step (``token_weights``' ``total``)."""
            return self.accelerator.reduce(x.reshape(1).float(), reduction="sum")[0]

        def fst_sums_total(self, key: str) -> float:
            """A metric sum of this step over every process, per trained token (every process must call it)."""
            both = torch.tensor([self.fst_sums[key], self.fst_sums["tokens"]], dtype=torch.float64,
                                device=self.accelerator.device)
            value, tokens = self.accelerator.reduce(both, reduction="sum").tolist()
            return value / max(1.0, tokens)

        def fst_token_logits(self, model, inputs: dict) -> torch.Tensor:
            """The native learner's forward (``rl.batch.completion_logits``: positions from the attention mask, so
            left-padded prompts see the positions they were sampled with), on TRL's padded rows."""
            from fastslow.rl.batch import TokenBatch, completion_logits

            batch = TokenBatch(torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1),
                               torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1),
                               inputs["completion_ids"], inputs["completion_mask"], inputs["prompt_ids"].shape[1])
            return completion_logits(model, batch, self.fst_learner.temperature)

        @torch.no_grad()
        def fst_ref_logps(self, out: dict) -> torch.Tensor:
            """Per-token log-probs under fastslow's reference (frozen initial weights, or the adapter-disabled
            policy under LoRA), for the k3 KL term and the per-step kl_k3; in micro-batches."""
            from fastslow.rl.batch import gather_logprobs

            ref, n, mb = self.fst.reference, out["completion_ids"].shape[0], self.args.per_device_train_batch_size
            if any(True for _ in ref.parameters()):
                ref.to(out["completion_ids"].device)
            parts = []
            for i in range(0, n, mb):
                rows = {k: out[k][i : i + mb] for k in ("prompt_ids", "prompt_mask", "completion_ids",
                                                         "completion_mask")}
                parts.append(gather_logprobs(self.fst_token_logits(ref, rows), rows["completion_ids"]))
            return torch.cat(parts)

        def _compute_loss(self, model, inputs):
            from fastslow.rl.batch import gather_logprobs
            from fastslow.rl.loss_registry import token_objective

            if self.fst.distill:
                return self.fst_distill_loss(model, inputs)
            logits = self.fst_token_logits(model, inputs)
            logp = gather_logprobs(logits, inputs["completion_ids"])
            with torch.no_grad():
                entropies = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)
            old = inputs["fst_behaviour"]
            tok_loss, clipped, kl = token_objective(self.fst_loss, self.fst_learner, logp, old, inputs["advantages"],
                                                    inputs.get("fst_ref"))
            weights = inputs["fst_weights"]
            loss = (tok_loss * weights).sum()
            with torch.no_grad():  # metric sums over the trained tokens, as the native learner's
                m = (weights != 0).float()
                s = self.fst_sums
                s["loss"] += loss.item()
                s["entropy"] += (entropies * m).sum().item()
                s["clipped"] += (clipped.float() * m).sum().item()
                s["kl_k3"] += (kl * m).sum().item() if kl is not None else 0.0
                s["ratio"] += (torch.exp(logp - old) * m).sum().item()
                s["tokens"] += m.sum().item()
            # the weights already sum the whole step over every process; the gradient is averaged over processes
            return loss * self.accelerator.num_processes

        def fst_step_metrics(self) -> dict:
            """The step's loss, entropy, clip fraction, k3 KL and mean ratio over every process (native schema)."""
            sums = torch.tensor([self.fst_sums[k] for k in SUMS], dtype=torch.float64, device=self.accelerator.device)
            s = dict(zip(SUMS, self.accelerator.reduce(sums, reduction="sum").tolist()))
            self.fst_sums = dict.fromkeys(SUMS, 0.0)
            n = max(1.0, s["tokens"])
            if self.fst.distill:  # the native distill_step's schema
                metrics = {"loss": s["loss"], "distill_kl": s["distill_kl"] / n, "entropy": s["entropy"] / n,
                           "tokens": s["tokens"]}
                return {**metrics, "skipped": 1.0} if self.fst_skip else metrics
            metrics = {"loss": s["loss"], "entropy": s["entropy"] / n, "clip_frac": s["clipped"] / n,
                       "ratio_mean": s["ratio"] / n, "tokens": s["tokens"]}
            if self.fst.kl_in_step:
                metrics["kl_k3"] = s["kl_k3"] / n
            if self.fst_skip:
                metrics["skipped"] = 1.0
            return metrics

        def fst_record_rows(self, groups: list[ProblemGroup], keep: list[bool]) -> None:
            if not os.environ.get(DEBUG_ENV):
                return
            self.fst.debug({"kind": "rows", "step": self.state.global_step, "rank": self.accelerator.process_index,
                            "population": list(self.fst.population),
                            "groups": [{"pid": g.problem.id, "prompt_index": [r.prompt_index for r in g.rollouts],
                                        "rewards": g.rewards, "advantages": g.advantages, "trained": k}
                                       for g, k in zip(groups, keep)]})

        def _load_optimizer_and_scheduler(self, checkpoint):
            super()._load_optimizer_and_scheduler(checkpoint)
            if checkpoint is not None:
                path = Path(checkpoint) / STATE_FILE
                if not path.is_file():
                    raise ConfigError(f"checkpoint {checkpoint} has no {STATE_FILE}: it was not written by the FST "
                                      "TRL engine")
                state = torch.load(path, weights_only=False)
                self.fst.load_state_dict(state, self.accelerator.process_index)
                if self.fst.sink is not None:
                    self.fst.sink.rewrite(self.fst.history)
                if self.accelerator.is_main_process:
                    cache = self.fst.cache
                    resumed = {"step": state["step"], "population": self.fst.population,
                               "cache_entries": len(cache) if cache is not None else None,
                               "cache_cycle": cache.cycle if cache is not None else None,
                               "checkpoint": str(checkpoint)}
                    (Path(self.fst.cfg.output_dir) / "resumed.json").write_text(json.dumps(resumed, indent=2))

    return FSTGRPOTrainer
