"""Generation backends behind one seam: tokens plus behaviour log-probs (see ``base``)."""

from fastslow.sampling.base import Completion, Sampler, SamplingParams
from fastslow.sampling.hf import HFSampler

__all__ = ["Completion", "HFSampler", "Sampler", "SamplingParams"]
