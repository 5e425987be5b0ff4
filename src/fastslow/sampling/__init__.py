"""Generation backends behind one seam: tokens plus behaviour log-probs (see ``base``)."""

from fastslow.sampling.base import Completion, Sampler, SamplingParams
from fastslow.sampling.errors import BackendUnavailable, SamplerError
from fastslow.sampling.factory import build_sampler
from fastslow.sampling.hf import HFSampler

__all__ = ["BackendUnavailable", "Completion", "HFSampler", "Sampler", "SamplerError", "SamplingParams",
           "build_sampler"]
