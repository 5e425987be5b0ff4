"""A short RL run on the shipped base model must raise validation accuracy on an easy task by a clear margin.

``mirror`` (reverse the string) is the easiest named task: under the generic seed prompt the base model solves
about 4 % of samples, pass@16 about 31 %, so RL has signal from the first step. A loop that does not learn (a
sign error in the advantages, a learner that never steps, rewards not reaching the loss) stays near the start.
"""

from fastslow.config import parse_config
from fastslow.trainer import Trainer

MARGIN = 0.25  # accuracy fraction; measured gains are far larger (see the test's assertion message)


def test_short_rl_run_raises_validation_accuracy(tmp_path):
    cfg = parse_config({
        "mode": "rl", "seed": 0, "model": "base", "output_dir": str(tmp_path), "steps": 20,
        "task": {"name": "mirror"},
        "rollout": {"problems_per_step": 8, "group_size": 8},
        "learner": {"lr": 1e-3, "warmup_steps": 2},
        "eval": {"every": 20, "problems": 32, "k": 4, "kl_problems": 0},
        "checkpoint": {"every": 1000, "keep": 1},
    })
    history = Trainer(cfg).run(progress=False)
    evals = [h for h in history if h["kind"] == "eval"]
    before, after = evals[0]["val_mean@4"], evals[-1]["val_mean@4"]
    assert (evals[0]["step"], evals[-1]["step"]) == (0, 20)
    assert before < 0.15, before  # the task is not already solved
    assert after - before >= MARGIN, f"validation mean@4 {before:.3f} -> {after:.3f} after 20 RL steps"
