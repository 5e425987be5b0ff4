"""``fst bench sampler``: completions per second of ``HFSampler`` against plain ``model.generate``.

Same model, same 64 prompts (8 problems x 8 samples), same sampling (temperature 1, no top-k/top-p), same
32-token limit with stop on EOS, one torch thread; the two are timed alternately so that machine load hits both
alike, and the ratio is taken of the medians.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import time

import torch

from fastslow.tasks import load_task
from fastslow.sampling import HFSampler, SamplingParams


def _time_generate(model, tokenizer, prompts, new_tokens: int, seed: int) -> float:
    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in prompts]
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    torch.manual_seed(seed)
    start = time.perf_counter()
    with torch.no_grad():
        model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=new_tokens,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return time.perf_counter() - start


def where_time_goes(sampler: HFSampler, prompts, params: SamplingParams) -> dict[str, float]:
    """Share of one ``sample`` call spent in the main kinds of work (from cProfile's internal times)."""
    prof = cProfile.Profile()
    prof.enable()
    sampler.sample(prompts, params)
    prof.disable()
    stats = pstats.Stats(prof).stats  # {(file, line, name): (calls, ncalls, internal time, cumulative, callers)}
    total = sum(v[2] for v in stats.values())
    kinds = {
        "linear (matmuls)": ("_nn.linear",),
        "attention": ("scaled_dot_product_attention",),
        "sampling": ("exponential_", "argmax", "softmax", "'sort'", "cumsum", "gather", "multinomial"),
        "norms/elementwise": ("'pow'", "'mean'", "rsqrt", "silu", "'mul'", "'add'", "'cat'", "'neg'", "__mul__",
                              "__add__", "__rmul__", "__neg__", "'to'"),
        "embedding": ("embedding",),
    }
    shares = {label: round(sum(v[2] for (_, _, fn), v in stats.items() if any(n in fn for n in names)) / total, 3)
              for label, names in kinds.items()}
    shares["other python"] = round(1 - sum(shares.values()), 3)
    return shares


def run(model, tokenizer, repeats: int = 7, new_tokens: int = 32, task_name: str = "tidy", seed: int = 0) -> dict:
    task = load_task(task_name)
    problems = task.problems("val", 8)
    prompts = [task.render(p, task.seed_prompt) for p in problems for _ in range(8)]
    sampler = HFSampler(model, tokenizer)
    params = SamplingParams(temperature=1.0, max_new_tokens=new_tokens, seed=seed)
    sampler.sample(prompts, params)  # warm-up
    _time_generate(model, tokenizer, prompts, new_tokens, seed)
    ours, theirs = [], []
    for r in range(repeats):
        start = time.perf_counter()
        sampler.sample(prompts, SamplingParams(temperature=1.0, max_new_tokens=new_tokens, seed=seed + r))
        ours.append(time.perf_counter() - start)
        theirs.append(_time_generate(model, tokenizer, prompts, new_tokens, seed + r))
    n = len(prompts)
    return {
        "batch": n, "new_tokens": new_tokens, "repeats": repeats, "threads": torch.get_num_threads(),
        "fastslow_seconds_median": statistics.median(ours), "generate_seconds_median": statistics.median(theirs),
        "fastslow_completions_per_s": n / statistics.median(ours),
        "generate_completions_per_s": n / statistics.median(theirs),
        "speedup_median_ratio": statistics.median(theirs) / statistics.median(ours),
        "speedup_per_pair_median": statistics.median(t / o for t, o in zip(theirs, ours)),
        "fastslow_time_shares": where_time_goes(sampler, prompts, params),
    }
