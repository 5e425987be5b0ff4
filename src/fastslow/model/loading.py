"""Loading any Hugging Face causal LM as the policy: a local folder, a hub id, the shipped base model or SmolLM2.

``model.path`` resolves in this order:

* ``base`` (or empty): the shipped tiny model; ``smollm2``: SmolLM2-135M-Instruct, built offline on first use
  (see ``fastslow.model.smollm2``);
* an existing local folder: loaded strictly locally (``local_files_only``); a folder holding only a LoRA adapter
  (``adapter_config.json``, e.g. a run's ``final/`` with ``model.export: adapter``) loads its base model and merges
  the adapter;
* anything that looks like a path (absolute, ``./``, ``~``, more than one ``/``) but is not a folder: an error;
* otherwise a hub id (``org/name``), loaded through ``from_pretrained`` (cache, or download when not offline).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from fastslow.errors import ModelPathError

SHIPPED_BASE = Path(__file__).resolve().parent.parent / "assets" / "base-model"
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


def _offline() -> bool:
    """Whether the Hugging Face hub is switched off (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE), read now."""
    return any(os.environ.get(v, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def looks_like_hub_id(path: str) -> bool:
    return bool(_HUB_ID.match(path)) and ".." not in path and "--" not in path and not path.endswith(".")


def resolve_source(path: str | os.PathLike | None) -> tuple[str | Path, bool]:
    """(folder or hub id, is_local). Local folders are checked here; hub ids are checked when loaded."""
    if path in (None, "", "base"):
        return _check_folder(SHIPPED_BASE), True
    if str(path) == "smollm2":
        from fastslow.model.smollm2 import ensure_built

        return _check_folder(ensure_built()), True
    folder = Path(path).expanduser()
    if folder.exists() or not isinstance(path, str) or not looks_like_hub_id(path):
        return _check_folder(folder), True
    return path, False


def _check_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise ModelPathError(f"model path {str(folder)!r} is not a folder; pass a local Hugging Face model folder, "
                             "a hub id (org/name), 'base' for the shipped base model or 'smollm2'")
    if not (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file():
        raise ModelPathError(f"model path {str(folder)!r} has no config.json; it is not a transformers model folder")
    return folder


def torch_dtype(name: str):
    import torch

    if name not in DTYPES:
        raise ModelPathError(f"model.kwargs.dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return getattr(torch, DTYPES[name])


def load_pretrained(path: str | os.PathLike | None = None, dtype: str = "fp32", attn_implementation: str | None = None,
                    revision: str | None = None, trust_remote_code: bool = False, device: str = "cpu"):
    """(model in eval mode, tokenizer with a chat template, a pad token and left padding)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, local = resolve_source(path)
    if local and (Path(source) / "adapter_config.json").is_file() and not (Path(source) / "config.json").is_file():
        return _load_adapter_folder(Path(source), dtype, attn_implementation, trust_remote_code, device)
    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    if local:
        common["local_files_only"] = True
    model_kw = {"dtype": torch_dtype(dtype)}
    if attn_implementation:
        model_kw["attn_implementation"] = attn_implementation
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
        model = AutoModelForCausalLM.from_pretrained(source, **common, **model_kw)
    except (OSError, ValueError, ImportError, KeyError) as err:
        if local:
            raise ModelPathError(f"could not load a model from {str(source)!r}: {err}") from err
        why = ("offline mode is on (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE) and the model is not in the local "
               "Hugging Face cache; set HF_HUB_OFFLINE=0 to download it, or pass a local folder"
               if _offline() else "it is neither a local folder nor a model on the hub that could be fetched")
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ModelPathError(f"could not load model {source!r}: {why} ({type(err).__name__}: {first_line})") from err
    if tokenizer.chat_template is None:
        raise ModelPathError(f"the tokenizer of {str(source)!r} has no chat template; fastslow needs one")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model.to(device).eval(), tokenizer


def _load_adapter_folder(folder: Path, dtype, attn_implementation, trust_remote_code, device):
    """A LoRA adapter folder: its base model (``base_model_name_or_path``) with the adapter merged in."""
    from peft import PeftModel

    base_path = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base_path:
        raise ModelPathError(f"adapter folder {str(folder)!r}: adapter_config.json names no base_model_name_or_path")
    model, tokenizer = load_pretrained(base_path, dtype, attn_implementation, trust_remote_code=trust_remote_code,
                                       device=device)
    if (folder / "tokenizer_config.json").is_file():  # the run saved its tokenizer next to the adapter
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        if tokenizer.chat_template is None:
            raise ModelPathError(f"the tokenizer of {str(folder)!r} has no chat template; fastslow needs one")
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
    merged = PeftModel.from_pretrained(model, folder).merge_and_unload()
    return merged.to(device).eval(), tokenizer


def load_from_config(model_cfg, device: str = "cpu"):
    """(policy, tokenizer) for a ``ModelConfig``: loaded, with LoRA and gradient checkpointing applied."""
    from fastslow.model.lora import prepare_policy

    k = model_cfg.kwargs
    model, tokenizer = load_pretrained(model_cfg.path, k.dtype, k.attn_implementation, k.revision,
                                       k.trust_remote_code, device)
    return prepare_policy(model, model_cfg), tokenizer
