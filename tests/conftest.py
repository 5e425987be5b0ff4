"""Shared test setup: single-threaded, offline."""

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _single_thread_torch():
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def base_model():
    """The shipped base model and tokenizer, loaded offline once per test session."""
    from fastslow.model.base import load_model

    return load_model("base")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny randomly initialised model with the real tokenizer, saved as a model folder (fast plumbing tests)."""
    from fastslow.model.pretrain import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))
