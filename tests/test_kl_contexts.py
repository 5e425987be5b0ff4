"""``eval.kl_context: both`` logs the diagnostic KL under the seed prompt and under the deployed (lead) prompt."""

from fastslow.config import parse_config
from fastslow.trainer import Trainer


def _run(tiny_model_dir, tmp_path, mode):
    cfg = parse_config({
        "mode": mode, "model": str(tiny_model_dir), "output_dir": str(tmp_path / mode), "steps": 2, "seed": 1,
        "task": {"name": "tidy"}, "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
        "population": {"size": 2, "cycle_steps": 2, "anchor_size": 4, "budget": 8},
        "eval": {"every": 2, "problems": 4, "k": 1, "kl_problems": 2, "kl_context": "both"},
        "checkpoint": {"every": 100, "keep": 1}})
    return [h for h in Trainer(cfg).run(progress=False) if h["kind"] == "eval"]


def test_both_contexts_are_logged(tiny_model_dir, tmp_path):
    for mode in ("fst", "rl"):
        evals = _run(tiny_model_dir, tmp_path, mode)
        for e in evals:
            assert {"kl_to_base", "kl_to_base_seed", "kl_to_base_lead"} <= set(e)
            assert e["kl_to_base"] == e["kl_to_base_seed"]  # the default key keeps its meaning
        assert evals[0]["kl_to_base_seed"] == 0.0  # step 0: the policy is the base model
        if mode == "rl":  # rl deploys the seed prompt: one context, measured once
            assert all(e["kl_to_base_lead"] == e["kl_to_base_seed"] for e in evals)
