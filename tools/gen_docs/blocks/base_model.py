"""The shipped base model: its facts (size, pretraining record) and what it can do (eval-base.json)."""

from __future__ import annotations

import json
from pathlib import Path

from gen_docs.common import _load, _ms, _pct, _range, _seeds, _table  # noqa: F401


def base_model_facts(results: Path) -> str:
    folder = results.parent.parent / "src" / "fastslow" / "assets" / "base-model"
    cfg = json.loads((folder / "config.json").read_text())
    rec = json.loads((folder / "pretrain_record.json").read_text())
    raw = (folder / "model.safetensors").read_bytes()
    header = json.loads(raw[8: 8 + int.from_bytes(raw[:8], "little")])
    params = sum(int(__import__("math").prod(t["shape"])) for k, t in header.items() if k != "__metadata__")
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    r, secs = rec["recipe"], rec["history"][-1]["seconds"]
    return _table(["", "value"], [
        ["architecture", f"{cfg['architectures'][0]}, hidden {cfg['hidden_size']}, {cfg['num_hidden_layers']} "
                         f"layers, {cfg['num_attention_heads']} heads ({cfg['num_key_value_heads']} KV), vocab "
                         f"{cfg['vocab_size']}"],
        ["parameters (safetensors)", f"{params:,}"],
        ["folder size", f"{size / 1e6:.1f} MB; target <= 10 MB"],
        ["pretraining (`pretrain_record.json`)", f"{r['steps']:,} steps x {r['batch_size']} examples, seed "
                                                 f"{r['seed']}, {r['threads']} thread: **{secs:,.0f} s "
                                                 f"({secs / 60:.1f} min)**; target <= 45 min"]])


def base_model(results: Path) -> str:
    d = _load(results, "eval-base.json")
    targets = {"1": ">= 90 %", "2": ">= 60 %", "3": "reported"}
    depth = _table(["explicit instruction, depth", "exact match", "target"],
                   [[k, f"**{_pct(v)}**", targets.get(k, "")] for k, v in d["explicit_accuracy_by_depth"].items()])
    rows = [[name, t["program"].replace("|", "\\|"), _pct(t["seed_prompt_accuracy"]),
             _pct(t["seed_prompt_pass_at_16"]), _pct(t["explicit_accuracy"])] for name, t in d["tasks"].items()]
    tasks = _table(["task", "hidden program", "seed-prompt accuracy (T=1)", "seed-prompt pass@16",
                    "told the rule (greedy)"], rows)
    return depth + "\n" + tasks


BLOCKS = {"base-model-facts": base_model_facts, "base-model": base_model}
