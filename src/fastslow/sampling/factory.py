"""One sampler per run, chosen by ``rollout.backend``: RL rollouts, GEPA rounds, rollout reuse and evaluation all
go through it, so there is one engine (and one copy of the served weights) per run.

A backend that serves its own copy of the weights (``vllm``) has ``load_policy(policy)``; the trainer calls it after
every optimizer step (and after a resume), and ``before_update()`` before the step (sleep mode). ``hf`` samples
from the training model itself and needs neither; ``openai`` serves fixed weights (``mode: gepa``).
"""

from __future__ import annotations

from fastslow.sampling.errors import SamplerError
from fastslow.sampling.hf import HFSampler

BACKENDS = ("hf", "vllm", "openai")


def build_sampler(cfg, policy, tokenizer):
    """The sampler ``cfg.rollout.backend`` names, serving ``policy`` (``cfg`` is a ``RunConfig``)."""
    backend = cfg.rollout.backend
    template = cfg.model.chat_template_kwargs
    if backend == "hf":
        return HFSampler(policy, tokenizer, chat_template_kwargs=template)
    if backend == "vllm":
        from fastslow.model.loading import resolve_source
        from fastslow.sampling.vllm import VLLMSampler, engine_model_path

        v = cfg.rollout.vllm
        dtype = cfg.model.kwargs.dtype if v.dtype == "auto" else v.dtype
        sampler = VLLMSampler(engine_model_path(resolve_source(cfg.model.path)[0]), tokenizer, dtype=dtype,
                              max_model_len=v.max_model_len, gpu_memory_utilization=v.gpu_memory_utilization,
                              enable_sleep_mode=v.enable_sleep_mode, tensor_parallel_size=v.tensor_parallel_size,
                              enable_prefix_caching=v.enable_prefix_caching, kv_cache_gib=v.kv_cache_gib,
                              seed=cfg.seed, chat_template_kwargs=template, engine_kwargs=v.engine_kwargs,
                              compile=v.compile)
        sampler.load_policy(policy)  # the policy may differ from the folder (LoRA, a passed-in or resumed model)
        return sampler
    if backend == "openai":
        from fastslow.sampling.openai import OpenAISampler

        o = cfg.rollout.openai
        return OpenAISampler(o.base_url, tokenizer, model=o.model, api_key=o.api_key, timeout=o.timeout,
                             concurrency=o.concurrency, chat_template_kwargs=template)
    raise SamplerError(f"rollout.backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def sync_policy(sampler, policy) -> bool:
    """Make ``sampler`` serve ``policy``'s current weights, if it keeps its own copy; True if it did."""
    load = getattr(sampler, "load_policy", None)
    if load is None:
        return False
    load(policy)
    return True


def before_update(sampler) -> None:
    """Tell ``sampler`` a learner step is about to run (vLLM sleep mode frees its KV cache on GPU)."""
    hook = getattr(sampler, "before_update", None)
    if hook is not None:
        hook()
