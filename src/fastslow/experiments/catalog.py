"""The experiments of the demo suite, one line each: name -> (its module under ``experiments/sections/``, the
results sections it needs, in order; the last is its own). The report shows the sections in this order. Free of heavy imports, so the
CLI can list and check names without loading the trainer.

Adding an experiment: one file ``sections/<module>.py`` (see ``sections/__init__.py`` for what it holds) and one
line here (the FST-distill claim was added that way: ``sections/distill.py`` and its line below).
"""

EXPERIMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "setting": ("setting", ("setting",)),
    "data-efficiency": ("data_efficiency", ("data_efficiency",)),
    "time-to-accuracy": ("time_to_accuracy", ("data_efficiency",)),
    "asymptote": ("asymptote", ("data_efficiency",)),
    "drift": ("drift", ("data_efficiency", "drift")),
    "forgetting": ("forgetting", ("data_efficiency", "forgetting")),
    "plasticity": ("plasticity", ("data_efficiency", "drift", "plasticity")),
    "continual": ("continual", ("continual",)),
    "quadrant": ("quadrant", ("data_efficiency", "quadrant")),
    "diversity": ("diversity", ("data_efficiency",)),
    "distill": ("distill", ("data_efficiency",)),
    "reflector-sweep": ("reflector_sweep", ("reflector_sweep",)),
}
