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
* **Advantages and loss** (``FSTGRPOTrainer``). The trainer computes the native learner's objective itself: the
  advantages with fastslow's own ``assign`` over each whole group (one group per problem, all K prompts in it), the
  behaviour log-probs as the importance-weight denominator, the registered loss (``fastslow.rl.loss_registry``),
  the k3 KL to fastslow's own reference (TRL's ``beta`` is 0), fastslow's batch-wide token weights
  (``rl.losses.token_weights``: the step's totals over every process, rows of dropped zero-variance groups weighted
  0, Dr.GRPO's constant ``max_new_tokens``) and the native forward (positions from the attention mask). The weights
  are fixed on the whole per-process batch before TRL splits it into ``learner.micro_batch_size`` micro-batches
  (gradient accumulation), and each micro-batch's loss is multiplied by the process count (DDP averages), so the
  summed gradient is the native one whatever the micro-batch size and process count (tests/test_trl_equivalence.py,
  tests/test_trl_distributed.py). A step whose groups all have zero variance takes no optimizer step, as native.
* **mode fst-distill.** Every slot samples under the student's context (the seed prompt, or none) and the loss is
  the native reverse KL to the teacher (``rl.distill``) under the teacher's contexts, with the same step-wide
  token weights; the teacher (``FSTEngine.teacher``) is snapshotted on every rank after each GEPA round, or
  follows the student (EMA); a step whose KL over every process is below ``rl.distill.MIN_KL`` is skipped, as
  native (tests/test_trl_distill.py).
* **Fast weights** (``FSTCallback``). Every T steps, before the step's rollouts, rank 0 runs the ``FastChannel``'s
  GEPA round (the native engine's, ``fastslow.fastweights.channel``) on the live weights while the other ranks wait
  (all ranks hold the full-parameter context, so ZeRO-3 / FSDP gathers work); the channel's state (population,
  rollout cache, counters) is broadcast to every rank. The channel's state, the step and the metrics history are
  saved in each TRL checkpoint (``fst_state.pt``) and restored by ``resume_from_checkpoint``. Rank 0 alone writes
  ``metrics.jsonl`` (and the ``logging`` sinks) in the native engine's schema.
* **Rollout seeds.** Every slot is sampled with a seed of (run seed, step, problem, slot), so a row samples the same
  completion on whichever process holds it: 1 and 2 processes train on the same rollouts.

Refused when the config is validated (what this engine cannot honour): ``mode: gepa``, ``rollout.backend`` other
than hf, ``learner.shared_prefix: true`` (TRL runs full rows; the gradient is the same), and at build a loss
registered with ``trl=False``. The final folder follows ``model.export`` (a LoRA policy merged, or its adapter).

Layout, one concept per module: ``launch`` (the supported TRL version; the launch's process count and rank),
``engine`` (``FSTEngine``: the run's shared state and its checkpoint), ``policy`` (the live policy with full
parameters, and its sampler), ``rollouts`` (slot assignment, ``FSTRolloutFunc``, ``FSTReward``), ``grpo_trainer``
(``FSTGRPOTrainer``), ``callback`` (``FSTCallback``: GEPA rounds, metrics, evaluation, checkpoints), ``run``
(``grpo_args``, ``build_trl_trainer``, ``run_trl``). trl and transformers are imported inside functions only, so
``import fastslow`` and ``fst --help`` never load them. The names below load on first use, so that the run
config's ``trl`` section (``integrations/trl/config.py``, imported by ``fastslow.config``) imports none of this.
"""

from fastslow.lazy import lazy_names

_WHERE = {
    "FSTEngine": "engine", "DEBUG_ENV": "engine", "STATE_FILE": "engine",
    "SUPPORTED_TRL_VERSION": "launch", "check_trl_version": "launch", "process_count": "launch",
    "process_rank": "launch",
    "FSTReward": "rollouts", "FSTRolloutFunc": "rollouts", "slot_prompts": "rollouts",
    "build_trl_trainer": "run", "grpo_args": "run", "run_trl": "run", "OWNED_ARGS": "run",
    "latest_checkpoint": "run",
    # the module's other names, importable from here as before it became a package
    "TRL_TO_NATIVE": "callback", "_callback_class": "callback", "task_problem_ids": "callback",
    "_trainer_class": "grpo_trainer", "full_model": "policy", "sampler_for": "policy",
}

__all__ = ["FSTEngine", "FSTReward", "FSTRolloutFunc", "SUPPORTED_TRL_VERSION", "build_trl_trainer",
           "check_trl_version", "grpo_args", "process_count", "run_trl", "slot_prompts"]


__getattr__ = lazy_names(__name__, _WHERE)
