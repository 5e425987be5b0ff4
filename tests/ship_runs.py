"""A tiny finished run for the fst distill / fst export tests (pytest puts this folder on sys.path)."""

from pathlib import Path


def tiny_gepa_run(out: Path, model: str = "base") -> Path:
    """GEPA-only, one round on `mirror` with the careful offline reflector: seconds on the shipped base model, and
    its lead prompt states the rule (the base model follows it when told, not when untold)."""
    from fastslow.config import parse_config
    from fastslow.trainer import Trainer

    cfg = parse_config({"mode": "gepa", "model": model, "output_dir": str(out), "steps": 1, "task": {"name": "mirror"},
                        "rollout": {"problems_per_step": 4, "group_size": 4, "max_new_tokens": 24},
                        "population": {"size": 2, "cycle_steps": 1, "anchor_size": 8, "budget": 24,
                                       "reflector": {"noise": 0.0}},
                        "eval": {"every": 1, "problems": 8, "k": 2, "kl_problems": 0}})
    Trainer(cfg).run(progress=False)
    return Path(out)
