"""Generation backends behind one seam: tokens plus behaviour log-probs (see ``base``).

The names below load on first use, so that ``fastslow.sampling.config`` (the run config's ``rollout`` section,
imported by ``fastslow.config``) does not pull torch and the samplers into every config load."""

from fastslow.lazy import lazy_names

_WHERE = {"Completion": "base", "Sampler": "base", "SamplingParams": "base", "BackendUnavailable": "errors",
          "SamplerError": "errors", "build_sampler": "factory", "HFSampler": "hf"}

__all__ = ["BackendUnavailable", "Completion", "HFSampler", "Sampler", "SamplerError", "SamplingParams",
           "build_sampler"]


__getattr__ = lazy_names(__name__, _WHERE)
