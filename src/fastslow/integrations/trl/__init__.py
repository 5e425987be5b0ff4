"""FST on TRL's ``GRPOTrainer`` (trl 1.16.0): the slow weights trained by TRL's distributed engine (accelerate
DDP / FSDP2 / ZeRO-3, multi-node), the fast weights (a population of K system prompts evolved by GEPA) by fastslow.

What each part does, and why it is correct for FST's batch structure (see docs/practical-notes.md, sections 4, 14):

* **Data.** The dataset holds the run's problems in the order of fastslow's ``ProblemStream`` (step s holds
  problems ``[s*B, (s+1)*B)``), not shuffled. TRL's ``RepeatSampler`` gives each problem G times in a row, and
  accelerate hands process p the rows ``[p*B*G/N, (p+1)*B*G/N)`` of each step, so every process holds whole groups
  (B must be a multiple of the number of processes N).
* **Rollouts** (``FSTRolloutFunc``, TRL's ``rollout_func``). Slot j of each run of G rows gets prompt
  ``population[j // (G/K)]`` (balanced: G/K each, K must divide G, the same order as the native engine). Slots are
  filled first from the GEPA round's rollout cache (reuse), then one completion per remaining slot is sampled with
  fastslow's ``HFSampler`` (rendered with ``Task.render``), which returns token ids and behaviour log-probs. One
  completion per slot, never TRL's "n completions of the group's first prompt" (wrong when prompts differ).
* **Rewards** (``FSTReward``). ``Task.score`` through ``safe_score``; each scored rollout (problem, prompt,
  completion, reward, feedback) is recorded for reflection (``population.reflect_on_rl_rollouts``).
* **Advantages and loss** (``FSTGRPOTrainer``). The advantages are recomputed with fastslow's own ``assign`` over
  each whole group (one group per problem, all K prompts in it; population std, as the native engine), the
  behaviour log-probs become TRL's ``old_per_token_logps`` (CISPO's IS weight against the sampling distribution,
  stop-gradient, truncated at tau = ``epsilon_high``), and fastslow's aggregation (``prompt`` by default: mean over
  each group's tokens, then over groups, across all processes) is applied by handing TRL per-token advantages
  ``A * w * c``, where ``c`` cancels TRL's own normaliser and the gradient averaging over processes. TRL's
  ``_compute_loss`` itself is unchanged.
* **Fast weights** (``FSTCallback``). Every T steps, before the step's rollouts, rank 0 runs the GEPA round on the
  live weights while the other ranks wait (all ranks hold the full-parameter context, so ZeRO-3 / FSDP gathers
  work); the new population and rollout cache are broadcast to every rank. Population, cache, reflector state,
  counters and the metrics history are saved in each TRL checkpoint (``fst_state.pt``) and restored by
  ``resume_from_checkpoint``. Rank 0 alone writes ``metrics.jsonl`` in the native engine's schema.

Differences from the native engine, by design: the KL penalty (``learner.kl_coef`` > 0) is TRL's (token-mean,
reference model built by TRL), the per-step ``kl_k3`` is not logged (``kl_to_base`` at evaluations is, on rank 0,
from a frozen copy of the initial policy when ``eval.kl_problems`` > 0); a step whose
groups all have zero variance still takes an optimizer step with zero gradient (AdamW momentum moves the weights).

Layout, one concept per module: ``launch`` (the supported TRL version; the launch's process count and rank),
``engine`` (``FSTEngine``: the run's shared state and its checkpoint), ``policy`` (the live policy with full
parameters, and its sampler), ``rollouts`` (slot assignment, ``FSTRolloutFunc``, ``FSTReward``), ``grpo_trainer``
(``FSTGRPOTrainer``), ``callback`` (``FSTCallback``: GEPA rounds, metrics, evaluation, checkpoints), ``run``
(``grpo_args``, ``build_trl_trainer``, ``run_trl``). trl and transformers are imported inside functions only, so
``import fastslow`` and ``fst --help`` never load them.
"""

from fastslow.integrations.trl.engine import FSTEngine
from fastslow.integrations.trl.launch import SUPPORTED_TRL_VERSION, check_trl_version, process_count
from fastslow.integrations.trl.rollouts import FSTReward, FSTRolloutFunc, slot_prompts
from fastslow.integrations.trl.run import build_trl_trainer, grpo_args, run_trl

# the module's other names, importable from here as before it became a package
from fastslow.integrations.trl.callback import TRL_TO_NATIVE, _callback_class, task_problem_ids  # noqa: F401
from fastslow.integrations.trl.engine import DEBUG_ENV, STATE_FILE  # noqa: F401
from fastslow.integrations.trl.grpo_trainer import _trainer_class  # noqa: F401
from fastslow.integrations.trl.launch import process_rank  # noqa: F401
from fastslow.integrations.trl.policy import full_model, sampler_for  # noqa: F401
from fastslow.integrations.trl.run import OWNED_ARGS, latest_checkpoint  # noqa: F401

__all__ = ["FSTEngine", "FSTReward", "FSTRolloutFunc", "SUPPORTED_TRL_VERSION", "build_trl_trainer",
           "check_trl_version", "grpo_args", "process_count", "run_trl", "slot_prompts"]
