"""The ``rollout`` section of a run config: batch shape, sampling parameters and the generation backend with
its own knobs (``vllm``, ``openai``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from fastslow.config_base import Section


class VLLMSection(Section):
    """rollout.backend: vllm — one in-process vLLM engine per run (RL rollouts, GEPA rounds, evaluation)."""

    dtype: Literal["auto", "fp32", "bf16", "fp16"] = Field("auto", description="engine weights dtype; auto follows "
                                                           "model.kwargs.dtype (fp32 makes ratios ~1 exactly)")
    max_model_len: int | None = Field(None, ge=1, description="prompt + completion tokens per sequence (null: the "
                                      "model's max_position_embeddings)")
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1, description="GPU only: share of GPU memory for the "
                                          "engine (weights + KV cache); the learner shares the GPU")
    enable_sleep_mode: bool = Field(False, description="GPU only: free the KV cache (and offload the engine's "
                                    "weights) during every learner step")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs the engine shards the model over: 1 only (a "
                                      "tensor-parallel engine runs workers in other processes, so every weight sync "
                                      "would be serialised over RPC; untested, refused)")
    enable_prefix_caching: bool = Field(True, description="reuse the KV cache of shared prompt prefixes (reset "
                                        "after every weight sync)")
    kv_cache_gib: float = Field(1.0, gt=0, description="CPU only: KV cache size in GiB (VLLM_CPU_KVCACHE_SPACE, "
                                "unless that is set)")
    compile: bool | None = Field(None, description="torch.compile the engine's model (and CUDA graphs on a GPU); "
                                 "null: vLLM's default on a GPU, eager on CPU (compiling takes minutes to start "
                                 "there, then decodes faster)")
    engine_kwargs: dict = Field(default_factory=dict, description="extra keyword arguments for vllm.LLM")

    @field_validator("tensor_parallel_size")
    @classmethod
    def _in_process(cls, size: int) -> int:
        if size > 1:
            raise ValueError(f"{size} > 1 is refused: a tensor-parallel engine runs its workers in other processes, "
                             "so every weight sync would be serialised over RPC (untested); use 1 (one GPU per "
                             "engine; several GPUs: engine: trl, which samples with hf)")
        return size


class OpenAISection(Section):
    """rollout.backend: openai — any OpenAI-compatible completions endpoint (e.g. `vllm serve`)."""

    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1")
    model: str | None = Field(None, description="served model name (null: the server's first model)")
    api_key: str | None = Field(None, description="sent as a bearer token (null: $OPENAI_API_KEY if set)")
    timeout: float = Field(300.0, gt=0, description="seconds per request")
    concurrency: int = Field(8, ge=1, description="requests in flight (one per distinct prompt)")


class RolloutConfig(Section):
    problems_per_step: int = Field(8, ge=1, description="B: problems per RL step")
    group_size: int = Field(8, ge=1, description="G: rollouts per problem, split over the K prompts")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(48, ge=1)
    backend: Literal["hf", "vllm", "openai"] = Field("hf", description="generation for RL, GEPA and evaluation: "
                                                     "hf (HFSampler, the training model itself), vllm (an in-process "
                                                     "vLLM engine, weights synced every step), openai (a server; "
                                                     "mode gepa only)")
    vllm: VLLMSection = VLLMSection()
    openai: OpenAISection = OpenAISection()
