"""The Sampler returns exactly what the learner will need: tokens plus their behaviour log-probs."""

import pytest
import torch

from fastslow.rulebook import get_task
from fastslow.sampling import HFSampler, SamplingParams
from fastslow.sampling.hf import top_p_filter


@pytest.fixture(scope="module")
def prompts():
    task = get_task("tidy")
    return [task.render(p, task.seed_prompt) for p in task.problems("val", 6)]


def teacher_forced_logprobs(model, completion, temperature):
    ids = torch.tensor([completion.prompt_ids + completion.token_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float() / temperature
    targets = torch.tensor(completion.token_ids)
    return logits.log_softmax(-1)[len(completion.prompt_ids) - 1 : -1].gather(-1, targets[:, None]).squeeze(-1)


@pytest.mark.parametrize("fast", [True, False])
def test_logprobs_equal_teacher_forced(base_model, prompts, fast):
    model, tok = base_model
    sampler = HFSampler(model, tok, fast=fast)
    out = sampler.sample(prompts, SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=40, seed=3), n=4)
    checked = 0
    for row in out:
        for c in row:
            assert len(c.token_ids) == len(c.logprobs) > 0
            ref = teacher_forced_logprobs(model, c, 0.7)
            assert torch.allclose(ref, torch.tensor(c.logprobs), atol=1e-4), (ref, c.logprobs)
            checked += 1
    assert checked == 24


def test_fast_and_hf_paths_sample_identically(base_model, prompts):
    model, tok = base_model
    params = SamplingParams(temperature=1.0, max_new_tokens=32, seed=11)
    a = HFSampler(model, tok, fast=True).sample(prompts, params, n=3)
    b = HFSampler(model, tok, fast=False).sample(prompts, params, n=3)
    assert [[c.token_ids for c in row] for row in a] == [[c.token_ids for c in row] for row in b]


def test_seeded_sampling_is_reproducible_and_seed_dependent(base_model, prompts):
    model, tok = base_model
    sampler = HFSampler(model, tok)
    run = lambda seed: [[c.text for c in row] for row in sampler.sample(  # noqa: E731
        prompts, SamplingParams(temperature=1.0, max_new_tokens=32, seed=seed), n=4)]
    assert run(5) == run(5)
    assert run(5) != run(6)


def test_stops_on_eos_and_respects_token_limit(base_model, prompts):
    model, tok = base_model
    sampler = HFSampler(model, tok)
    out = sampler.sample(prompts, SamplingParams(temperature=1.0, max_new_tokens=40, seed=0), n=4)
    flat = [c for row in out for c in row]
    assert any(c.finished for c in flat)
    for c in flat:
        assert len(c.token_ids) <= 40
        if c.finished:
            assert c.token_ids[-1] == tok.eos_token_id and tok.eos_token_id not in c.token_ids[:-1]
        else:
            assert len(c.token_ids) == 40
    short = sampler.sample(prompts, SamplingParams(temperature=1.0, max_new_tokens=2, seed=0))
    assert all(len(row[0].token_ids) <= 2 for row in short)


def test_greedy_picks_argmax(base_model, prompts):
    model, tok = base_model
    c = HFSampler(model, tok).sample(prompts[:1], SamplingParams(temperature=0.0, max_new_tokens=20))[0][0]
    ids = torch.tensor([c.prompt_ids + c.token_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    assert logits[len(c.prompt_ids) - 1 : -1].argmax(-1).tolist() == c.token_ids


def test_top_p_filter_keeps_smallest_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(top_p_filter(logits, 0.7))
    assert kept.tolist() == [[True, True, False, False]]
    assert torch.isfinite(top_p_filter(logits, 0.01)).sum() == 1  # the top token always stays
    assert torch.equal(top_p_filter(logits, 1.0), logits)


def test_bad_sampling_params_are_rejected():
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(temperature=-1)


# ---- per-row seeds (issue 12: a GEPA rollout must not depend on the batch it was generated in) -----------------

@pytest.mark.parametrize("fast", [True, False])
def test_row_seeds_make_a_row_independent_of_its_batch(base_model, prompts, fast):
    model, tok = base_model
    sampler = HFSampler(model, tok, fast=fast)
    params = SamplingParams(temperature=1.0, max_new_tokens=32)
    seeds = [101, 202, 303, 404, 505, 606]
    batched = sampler.sample(prompts, params, n=2, seeds=seeds)
    alone = [sampler.sample([p], params, n=2, seeds=[s])[0] for p, s in zip(prompts, seeds)]
    reordered = sampler.sample(prompts[::-1], params, n=2, seeds=seeds[::-1])[::-1]
    ids = lambda out: [[c.token_ids for c in row] for row in out]  # noqa: E731
    assert ids(batched) == ids(alone) == ids(reordered)
    other = sampler.sample(prompts, params, n=2, seeds=[s + 1 for s in seeds])
    assert ids(other) != ids(batched)
    with pytest.raises(ValueError, match="seeds"):
        sampler.sample(prompts, params, seeds=seeds[:2])


def test_row_noise_draws_from_the_sampling_distribution():
    """The exponential race over per-row hashed noise picks token i with probability p_i, across rows and across
    decoding steps of one row."""
    from fastslow.sampling.hf import row_keys

    probs = torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625])
    logits = probs.log().expand(20_000, 5)
    params = SamplingParams(temperature=1.0)
    across_rows, _ = HFSampler._pick(logits, params, None, row_keys(range(20_000), 1), 3)
    one_row = torch.cat([HFSampler._pick(logits[:1], params, None, row_keys([9], 1), t)[0] for t in range(4_000)])
    for tokens in (across_rows, one_row):
        freq = torch.bincount(tokens, minlength=5).float() / len(tokens)
        assert torch.allclose(freq, probs, atol=0.02), freq


def test_backend_comparison_runs_every_backend_in_the_asked_dtype():
    """``fst bench sampler --backend ... --dtype bf16``: every backend generates exactly the asked tokens per
    completion with weights in that dtype, and the record says which dtype and hardware it ran on."""
    from fastslow.bench.sampler_throughput import compare_backends

    result = compare_backends("base", backends=("hf", "generate"), repeats=1, new_tokens=4, problems=2, samples=2,
                              dtype="bf16")
    assert result["dtype"] == "bf16" and "cores" in result["hardware"]
    assert result["hf_completions_per_s"] > 0 and result["generate_completions_per_s"] > 0
    with pytest.raises(ValueError, match="unknown dtype"):
        compare_backends("base", backends=("hf",), dtype="fp8")
