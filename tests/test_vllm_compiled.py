"""``rollout.vllm.compile: true`` on CPU: a torch.compile'd engine still serves the weights it is given.

A compiled graph that captured the weights as constants would go on serving the old policy after a sync, and the
learner would train on samples from a model it no longer is. This starts its own compiled engine (slow: the compile
takes about a minute on this CPU), which is why it is one test in a file of its own.
"""

import copy

import pytest
import torch

pytest.importorskip("vllm")

from fastslow.model.base import SHIPPED_BASE, load_model  # noqa: E402
from fastslow.sampling import SamplingParams  # noqa: E402
from fastslow.sampling.vllm import VLLMSampler  # noqa: E402
from test_vllm_sampler import MESSAGES, TOLERANCE, max_gap  # noqa: E402


def test_compiled_engine_serves_synced_weights():
    base, tok = load_model("base")
    engine = VLLMSampler(SHIPPED_BASE, tok, dtype="fp32", max_model_len=256, seed=0, compile=True)
    try:
        assert not engine.llm.llm_engine.vllm_config.model_config.enforce_eager
        fixed = [c for row in engine.sample(MESSAGES, SamplingParams(max_new_tokens=16, seed=4), n=2) for c in row]
        assert max_gap(base, fixed) <= TOLERANCE
        changed = copy.deepcopy(base)
        with torch.no_grad():
            for p in changed.parameters():
                p.add_(0.02 * torch.randn_like(p))
        engine.load_policy(changed)
        served = [torch.tensor(engine.score(c.prompt_ids, c.token_ids)) for c in fixed]
        to_new, to_old = max_gap(changed, fixed, served=served), max_gap(base, fixed, served=served)
        assert to_new <= TOLERANCE and to_old > 50 * TOLERANCE, (to_new, to_old)
    finally:
        engine.close()
