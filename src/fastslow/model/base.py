"""Locating and loading models: the shipped base model or any local Hugging Face model folder."""

from __future__ import annotations

import os
from pathlib import Path

from fastslow.errors import ModelPathError

SHIPPED_BASE = Path(__file__).resolve().parent.parent / "assets" / "base-model"


def resolve_model_path(path: str | os.PathLike | None) -> Path:
    """``None`` or ``"base"`` means the shipped base model; anything else must be a local model folder."""
    folder = SHIPPED_BASE if path in (None, "", "base") else Path(path).expanduser()
    if not folder.is_dir():
        raise ModelPathError(f"model path {str(folder)!r} is not a folder; pass a local Hugging Face model folder "
                             "(nothing is downloaded), or 'base' for the shipped base model")
    if not (folder / "config.json").is_file():
        raise ModelPathError(f"model path {str(folder)!r} has no config.json; it is not a transformers model folder")
    return folder


def load_model(path: str | os.PathLike | None = None, device: str = "cpu", dtype=None):
    """(model, tokenizer) from a local folder, strictly offline."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = resolve_model_path(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype or torch.float32)
    except (OSError, ValueError) as err:
        raise ModelPathError(f"could not load a model from {str(folder)!r}: {err}") from err
    if tokenizer.chat_template is None:
        raise ModelPathError(f"the tokenizer in {str(folder)!r} has no chat template; fastslow needs one")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model.to(device).eval(), tokenizer
