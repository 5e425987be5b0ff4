"""Experiment evaluation for FST: pure analysis functions (``analysis``) and the HTML/JSON report writer (``report``).

These modules follow the evaluation definitions of the paper (see ``docs/fst-method.md`` sections 4.6, 5.1-5.5, 5.8,
6 and 9): speedup to RL's running peak, ScaleRL sigmoid asymptotes, KL to the base at matched reward, plasticity,
per-stage normalised continual-learning curves and the weights x prompt quadrant.
"""
