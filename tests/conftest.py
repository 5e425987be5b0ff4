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
    from fastslow.model.pretrain import PretrainConfig, build_model
    from fastslow.model.tokenizer import build_tokenizer

    path = tmp_path_factory.mktemp("tiny-model")
    tok = build_tokenizer()
    model = build_model(PretrainConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2,
                                       num_kv_heads=1, head_dim=16), tok)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path
