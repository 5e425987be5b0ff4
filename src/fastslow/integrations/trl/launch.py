"""The launch: the one TRL version the engine supports (it relies on TRL internals), and the number and rank of
this launch's processes, read before anything (accelerate, torch.distributed) initialises."""

from __future__ import annotations

import os

import torch

from fastslow.config import ConfigError

SUPPORTED_TRL_VERSION = "1.16.0"


def check_trl_version(version: str | None = None) -> str:
    """The engine relies on TRL internals (rollout_func grouping, ``_compute_loss``): exactly one version."""
    if version is None:
        try:
            import trl
        except ImportError:
            raise ConfigError(f"engine: trl needs the trl package (pip install 'trl=={SUPPORTED_TRL_VERSION}')") \
                from None
        version = trl.__version__
    if version != SUPPORTED_TRL_VERSION:
        raise ConfigError(f"engine: trl supports trl=={SUPPORTED_TRL_VERSION} only, but trl {version} is installed; "
                          f"install it with pip install 'trl=={SUPPORTED_TRL_VERSION}' or use engine: native")
    return version


def process_count() -> int:
    """Processes of this launch (accelerate launch / torchrun set WORLD_SIZE), before anything initialises."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def process_rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", "0") or 0)
