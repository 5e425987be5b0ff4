"""The shipped base model is a real transformers model folder that loads offline, and its recipe is seeded."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from fastslow.errors import ModelPathError
from fastslow.model.base import SHIPPED_BASE, load_model, resolve_model_path
from fastslow.model.pretrain import PretrainConfig, pretrain


def test_shipped_folder_is_small_and_complete():
    files = {p.name for p in SHIPPED_BASE.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= files
    size = sum(p.stat().st_size for p in SHIPPED_BASE.rglob("*") if p.is_file())
    assert size <= 10 * 1024 * 1024, f"{size} bytes"


def test_loads_offline_with_auto_classes():
    model = AutoModelForCausalLM.from_pretrained(SHIPPED_BASE, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(SHIPPED_BASE, local_files_only=True)
    assert model.config.model_type == "qwen3"
    assert model.generation_config.eos_token_id == tok.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    text = tok.apply_chat_template([{"role": "system", "content": "Reverse the string."},
                                    {"role": "user", "content": "abc"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>system\nReverse the string.<|im_end|>" in text


def test_follows_an_explicit_instruction(base_model):
    model, tok = base_model
    msgs = [{"role": "system", "content": "Reverse the string."}, {"role": "user", "content": "hello"}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip() == "olleh"


def test_save_load_round_trip(tmp_path, base_model):
    model, tok = base_model
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    again, tok2 = load_model(tmp_path)
    for (n, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), n
    assert tok2("abc>cba")["input_ids"] == tok("abc>cba")["input_ids"]


def test_missing_or_bad_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelPathError, match="is not a folder"):
        resolve_model_path(tmp_path / "nope")
    with pytest.raises(ModelPathError, match="no config.json"):
        resolve_model_path(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelPathError, match="could not load"):
        load_model(tmp_path)


def test_pretraining_is_deterministic_by_seed(tmp_path):
    small = dict(steps=3, batch_size=8, bucket=2, hidden_size=32, intermediate_size=64, num_layers=1,
                 num_heads=2, num_kv_heads=1, head_dim=16, warmup_steps=1)
    runs = [pretrain(PretrainConfig(seed=s, **small), tmp_path / f"m{i}", log=lambda _: None)
            for i, s in enumerate([7, 7, 8])]
    losses = [[(h["step"], h["loss"]) for h in r["history"]] for r in runs]  # wall-clock seconds vary
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]
    a, b = (load_model(tmp_path / f"m{i}")[0].state_dict() for i in (0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    record = json.loads((tmp_path / "m0" / "pretrain_record.json").read_text())
    assert record["recipe"]["seed"] == 7
