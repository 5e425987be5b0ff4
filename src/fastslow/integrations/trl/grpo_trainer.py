"""``FSTGRPOTrainer``, TRL's ``GRPOTrainer`` with FST's advantages and aggregation: fastslow's advantages over each
whole group, the behaviour log-probs as the old log-probs, and per-token advantages that make TRL's unchanged loss
the native learner's. Built by ``_trainer_class`` so that trl is imported only when a trainer is built."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from fastslow.config import ConfigError
from fastslow.integrations.trl.engine import DEBUG_ENV, STATE_FILE, FSTEngine
from fastslow.rl.rollouts import ProblemGroup


def _trainer_class():
    from trl import GRPOTrainer

    class FSTGRPOTrainer(GRPOTrainer):
        """``GRPOTrainer`` with FST's groups (all K prompts in one group per problem), fastslow's advantages, the
        behaviour log-probs as the old log-probs, and fastslow's aggregation (default: prompt-level)."""

        def __init__(self, *args, engine: FSTEngine, **kwargs):
            self.fst = engine
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

        def _generate_and_score_completions(self, inputs):
            self._fst_inputs = inputs
            out = super()._generate_and_score_completions(inputs)
            if "sampling_per_token_logps" in out and "old_per_token_logps" not in out:
                out["old_per_token_logps"] = out["sampling_per_token_logps"]  # CISPO's IS weight vs behaviour
            out["advantages"] = self.fst_token_advantages(out)
            return out

        def fst_token_advantages(self, out: dict) -> torch.Tensor:
            """Per-token advantages ``A * w * c``: fastslow's advantages (one group per problem), fastslow's
            token weights over the whole step on every process, and ``c`` that cancels TRL's normaliser and the
            gradient mean over processes, so the summed gradient is the native learner's."""
            from fastslow.rl.advantages import assign, has_signal

            L, G = self.fst.cfg.learner, self.num_generations
            rollouts = self.fst.batch_rollouts
            n = len(rollouts)
            groups = [ProblemGroup(rollouts[i].problem, rollouts[i : i + G]) for i in range(0, n, G)]
            assign(groups, L.baseline, L.scale_by_std)
            keep = [has_signal(g) or not L.drop_zero_variance for g in groups]
            device = out["completion_mask"].device
            adv = torch.tensor([a for g in groups for a in g.advantages], dtype=torch.float32, device=device)
            mask = out["completion_mask"].float()
            if "tool_mask" in out:
                mask = mask * out["tool_mask"].float()
            row_keep = torch.tensor([float(k) for k in keep for _ in range(G)], device=device)
            mask = mask * row_keep[:, None]
            aggregation = "constant" if L.loss == "drgrpo" and L.aggregation == "prompt" else L.aggregation
            weights = self.fst_token_weights(mask, G, aggregation)
            N = self.accelerator.num_processes
            ga = getattr(self, "current_gradient_accumulation_steps", self.args.gradient_accumulation_steps)
            spg = self.args.steps_per_generation
            trl_normaliser = out["num_items_in_batch"].clamp(min=1.0) / N * ga / spg
            self.fst_record_rows(groups, keep)
            return adv[:, None] * weights * (trl_normaliser * N)

        def fst_token_weights(self, mask: torch.Tensor, G: int, aggregation: str) -> torch.Tensor:
            """fastslow's ``token_weights`` with the step's totals taken over every process."""
            total = lambda x: self.accelerator.gather(x.reshape(1).float()).sum()  # noqa: E731
            rows_alive = (mask.sum(-1) > 0).float()
            if aggregation == "prompt":
                per_group = mask.sum(-1).view(-1, G).sum(-1)  # tokens of each local group
                n_groups = total((per_group > 0).float().sum()).clamp(min=1)
                return mask / per_group.repeat_interleave(G).clamp(min=1)[:, None] / n_groups
            if aggregation == "token":
                return mask / total(mask.sum()).clamp(min=1)
            if aggregation == "sequence":
                return mask / mask.sum(-1, keepdim=True).clamp(min=1) / total(rows_alive.sum()).clamp(min=1)
            if aggregation == "constant":
                max_len = self.accelerator.gather(torch.tensor([mask.shape[1]], device=mask.device)).max()
                return mask / (total(torch.tensor(float(mask.shape[0]), device=mask.device)) * max_len)
            raise ValueError(f"unknown aggregation {aggregation!r}")

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
                    resumed = {"step": state["step"], "population": self.fst.population,
                               "cache_entries": len(self.fst.cache) if self.fst.cache is not None else None,
                               "cache_cycle": self.fst.cache.cycle if self.fst.cache is not None else None,
                               "checkpoint": str(checkpoint)}
                    (Path(self.fst.cfg.output_dir) / "resumed.json").write_text(json.dumps(resumed, indent=2))

    return FSTGRPOTrainer
