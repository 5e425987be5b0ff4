"""Generation backends behind one seam: tokens plus behaviour log-probs (see ``base``).

The names below load on first use, so that ``fastslow.sampling.config`` (the run config's ``rollout`` section,
imported by ``fastslow.config``) does not pull torch and the samplers into every config load."""

from importlib import import_module

_WHERE = {"Completion": "base", "Sampler": "base", "SamplingParams": "base", "BackendUnavailable": "errors",
          "SamplerError": "errors", "build_sampler": "factory", "HFSampler": "hf"}

__all__ = ["BackendUnavailable", "Completion", "HFSampler", "Sampler", "SamplerError", "SamplingParams",
           "build_sampler"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'fastslow.sampling' has no attribute {name!r}")
    value = getattr(import_module(f"fastslow.sampling.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
