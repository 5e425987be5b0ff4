"""The ``openai`` backend against vLLM's OpenAI-compatible server, started here on 127.0.0.1 with the shipped base
model: a GEPA round is served by it, and its log-probs are the learner's (``--logprobs-mode processed_logprobs``)."""


import pytest
import torch

pytest.importorskip("vllm")

from fastslow.fastweights.gepa_round import gepa_round  # noqa: E402
from fastslow.model.base import SHIPPED_BASE, load_model  # noqa: E402
from fastslow.rl.batch import completion_logits, gather_logprobs, pack  # noqa: E402
from fastslow.rulebook import get_task  # noqa: E402
from fastslow.sampling import SamplingParams  # noqa: E402
from fastslow.sampling.openai import OpenAISampler  # noqa: E402
from helpers import HintReflector, vllm_server  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with vllm_server(SHIPPED_BASE, "base", log, 600, "--logprobs-mode", "processed_logprobs") as url:
        yield url


def test_openai_backend_serves_a_gepa_round(server):
    model, tok = load_model("base")
    sampler = OpenAISampler(server, tok)
    assert sampler.model == "base"
    task = get_task("tidy", partial_credit=True)
    anchor = task.problems("train", 6)
    params = SamplingParams(temperature=1.0, max_new_tokens=12, seed=0)
    reflector = HintReflector()
    result = gepa_round(sampler, task, reflector, anchor, [task.seed_prompt], budget=12, k=2, params=params)
    assert result.metric_calls >= 12 and result.reflection_calls == reflector.stats.calls > 0
    assert len(result.population) == 2 and set(result.population) <= set(result.candidates)
    # the server's sampled tokens and log-probs are those of the same model the learner holds
    out = sampler.sample([task.render(p, task.seed_prompt) for p in anchor[:2]], params, n=2)
    flat = [c for row in out for c in row]
    assert all(len(c.token_ids) == len(c.logprobs) > 0 for c in flat)
    batch = pack([c.prompt_ids for c in flat], [c.token_ids for c in flat], 0)
    with torch.no_grad():
        learner = gather_logprobs(completion_logits(model, batch, 1.0), batch.completion)
    gap = max((learner[i, : len(c.token_ids)] - torch.tensor(c.logprobs)).abs().max().item()
              for i, c in enumerate(flat))
    assert gap <= 1e-3
