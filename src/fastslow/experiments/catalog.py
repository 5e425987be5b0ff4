"""The experiments of the demo suite, by name: the result sections each one needs (in order) and the summary keys
that report it. A module of its own, free of heavy imports, so the CLI can list and check names without loading
the trainer."""

EXPERIMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "data-efficiency": (("data_efficiency",), ("speedup_to_rl_peak",)),
    "asymptote": (("data_efficiency",), ("asymptote", "asymptote_fits")),
    "drift": (("data_efficiency", "drift"), ("kl_reduction_at_matched_reward",)),
    "forgetting": (("data_efficiency", "forgetting"), ("forgetting",)),
    "plasticity": (("data_efficiency", "plasticity"), ("plasticity",)),
    "continual": (("continual",), ("continual",)),
    "quadrant": (("data_efficiency", "quadrant"), ("quadrant",)),
    "setting": (("setting",), ()),
    "reflector-sweep": (("reflector_sweep",), ()),
}
