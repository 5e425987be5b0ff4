"""Locating and loading models: the shipped base model, SmolLM2, a local Hugging Face folder or a hub id.

The work is done in ``fastslow.model.loading`` (loading), ``fastslow.model.lora`` (LoRA, gradient checkpointing,
the reference policy) and ``fastslow.model.smollm2`` (the offline SmolLM2 build); this module keeps the short
entry points used across the package.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastslow.model.loading import SHIPPED_BASE, _check_folder, load_from_config, load_pretrained

__all__ = ["SHIPPED_BASE", "load_model", "load_from_config", "resolve_model_path"]


def resolve_model_path(path: str | os.PathLike | None) -> Path:
    """A local model folder: ``None`` or ``"base"`` is the shipped base model, ``"smollm2"`` the SmolLM2 folder
    (built on first use); anything else must be a local Hugging Face model folder."""
    if path in (None, "", "base"):
        return _check_folder(SHIPPED_BASE)
    if str(path) == "smollm2":
        from fastslow.model.smollm2 import ensure_built

        return _check_folder(ensure_built())
    return _check_folder(Path(path).expanduser())


_DTYPE_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def load_model(path=None, device: str = "cpu", dtype=None):
    """(model, tokenizer). ``path`` is a folder, hub id, ``base``, ``smollm2`` or a ``ModelConfig`` (then LoRA and
    gradient checkpointing are applied too). ``dtype``: fp32 (default), bf16, fp16 or a torch dtype."""
    from fastslow.config import ModelConfig

    if isinstance(path, ModelConfig):
        return load_from_config(path, device)
    if dtype is not None and not isinstance(dtype, str):
        dtype = _DTYPE_NAMES.get(str(dtype).removeprefix("torch."), str(dtype))
    return load_pretrained(path, dtype or "fp32", device=device)
