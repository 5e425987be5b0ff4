"""`fst export`: a model folder that plain transformers loads without fastslow, behaving as the run trained."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from helpers import vllm_server
from ship_runs import tiny_gepa_run

from fastslow.config import parse_config
from fastslow.ship.export import ExportError, export_run, with_default_system
from fastslow.trainer import Trainer

# Runs in a fresh interpreter (-I: no PYTHONPATH, no user site, no script folder on sys.path); the editable
# install's .pth still puts fastslow's src folder on sys.path, so every entry holding a `fastslow` package is
# dropped, and the script proves fastslow cannot be imported before it loads anything.
PLAIN_LOADER = r"""
import importlib.util, json, os, sys
sys.path = [p for p in sys.path if not os.path.isdir(os.path.join(p or ".", "fastslow"))]
assert importlib.util.find_spec("fastslow") is None, "fastslow is still importable"
try:
    import fastslow  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("fastslow imported")
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
folder, texts, max_new = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
tok = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder).eval()
out = {"template": tok.chat_template, "prompts": [], "greedy": [],
       "own_system": tok.apply_chat_template([{"role": "system", "content": "Mine."}, {"role": "user", "content": "x"}],
                                             tokenize=False, add_generation_prompt=True)}
for text in texts:
    rendered = tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    ids = tok(rendered, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        gen = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=max_new,
                             pad_token_id=tok.pad_token_id)
    out["prompts"].append(ids[0].tolist())
    out["greedy"].append(gen[0, ids.shape[1]:].tolist())
out["fastslow_loaded"] = "fastslow" in sys.modules
print("RESULT" + json.dumps(out))
"""


def _plain_load(folder, texts, max_new, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-I", "-c", PLAIN_LOADER, str(folder), json.dumps(texts), str(max_new)],
                          check=False, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.split("RESULT", 1)[1])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    run = tiny_gepa_run(root / "run")
    export_run(run, root / "out", eval_problems=4)
    return run, root / "out"


def _strip_eos(ids, eos):
    return ids[: ids.index(eos)] if eos in ids else ids


def test_export_loads_without_fastslow_and_behaves_as_trained(exported, tmp_path):
    from fastslow.model.base import load_model
    from fastslow.sampling import HFSampler, SamplingParams
    from fastslow.tasks import load_task

    run, out = exported
    lead = json.loads((run / "final" / "population.json").read_text())[0]
    task = load_task("rulebook/mirror")
    problems = task.problems("val", 4)
    assert all(not p.system for p in problems)  # no dataset system text to merge: the default is the whole system
    plain = _plain_load(out, [p.text for p in problems], 16, tmp_path)
    assert not plain["fastslow_loaded"]
    assert lead in plain["template"]
    assert "Mine." in plain["own_system"] and lead not in plain["own_system"]  # the caller's system message wins
    model, tok = load_model(run / "final")
    rows = HFSampler(model, tok).sample([task.render(p, lead) for p in problems],
                                        SamplingParams(temperature=0.0, max_new_tokens=16))
    assert plain["prompts"] == [row[0].prompt_ids for row in rows]  # the default template renders the trained context
    eos = tok.eos_token_id
    assert [_strip_eos(g, eos) for g in plain["greedy"]] == [_strip_eos(list(row[0].token_ids), eos) for row in rows]


def test_export_writes_population_and_model_card(exported):
    run, out = exported
    population = json.loads((run / "final" / "population.json").read_text())
    record = json.loads((out / "fastslow_population.json").read_text())
    assert [p["prompt"] for p in record["prompts"]] == population
    assert all("val_mean@2/mirror" in p["scores"] and "gepa_anchor/mirror" in p["scores"] for p in record["prompts"])
    card = (out / "README.md").read_text()
    assert population[0] in card and "## Provenance" in card and "commit" in card and "val_mean@2" in card


def test_default_system_template_escapes_the_prompt():
    from transformers.utils.chat_template_utils import render_jinja_template

    prompt = 'Say "hi" {{ not jinja }} \\ and\nnew line'
    template = with_default_system("{% for m in messages %}[{{ m['role'] }}:{{ m['content'] }}]{% endfor %}", prompt)
    rendered, _ = render_jinja_template([[{"role": "user", "content": "u"}]], chat_template=template)
    assert rendered[0] == f"[system:{prompt}][user:u]"


def test_lora_export_merges_to_base_plus_adapter(tiny_model_dir, tmp_path):
    cfg = parse_config({"mode": "rl", "model": {"path": str(tiny_model_dir), "export": "adapter",
                                                "lora": {"r": 4, "alpha": 8, "target_modules": "all-linear"}},
                        "output_dir": str(tmp_path / "run"), "steps": 2, "task": {"name": "tidy", "partial_credit": True},
                        "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
                        "learner": {"lr": 5e-2, "warmup_steps": 0},
                        "eval": {"every": 2, "problems": 2, "k": 1, "kl_problems": 0}})
    Trainer(cfg).run(progress=False)
    final = tmp_path / "run" / "final"
    assert (final / "adapter_config.json").is_file() and not (final / "config.json").is_file()
    export_run(tmp_path / "run", tmp_path / "out", eval_problems=0)
    merged, base = load_file(tmp_path / "out" / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    adapter = load_file(final / "adapter_model.safetensors")
    scale = json.loads((final / "adapter_config.json").read_text())["lora_alpha"] / 4
    expected, changed = dict(base), 0
    for key, a in adapter.items():
        if ".lora_A." not in key:
            continue
        b = adapter[key.replace(".lora_A.", ".lora_B.")]
        target = key.removeprefix("base_model.model.").replace(".lora_A.weight", ".weight")
        expected[target] = base[target] + scale * (b @ a)
        changed += int((b @ a).abs().max() > 1e-4)
    assert changed > 0  # the adapter moved the weights, so equality is not trivially the base
    assert set(merged) == set(base) - ({"lm_head.weight"} - set(merged))
    for key, value in merged.items():
        torch.testing.assert_close(value, expected[key], atol=1e-5, rtol=0)
    adapter_out = tmp_path / "adapter-out"
    export_run(tmp_path / "run", adapter_out, adapter=True, eval_problems=0)
    assert (adapter_out / "adapter_model.safetensors").is_file() and not (adapter_out / "model.safetensors").exists()


def test_export_refuses_unclear_requests(exported, tmp_path):
    run, out = exported
    with pytest.raises(ExportError, match="not empty"):
        export_run(run, out)
    with pytest.raises(ExportError, match="holds full weights, not a LoRA adapter"):
        export_run(run, tmp_path / "a", adapter=True)


@pytest.mark.slow
def test_vllm_serves_the_export_with_the_lead_prompt_by_default(exported, tmp_path):
    """`vllm serve` on the exported folder (CPU, eager): a chat request without a system message gets the same
    greedy completion as fastslow's sampler under the lead prompt."""
    pytest.importorskip("vllm")
    import urllib.request

    from fastslow.model.base import load_model
    from fastslow.sampling import HFSampler, SamplingParams
    from fastslow.tasks import load_task

    run, out = exported
    # vLLM's CPU start takes minutes, many more on a loaded machine
    with vllm_server(out, "exported", tmp_path / "server.log", 1800) as url:
        task = load_task("rulebook/mirror")
        lead = json.loads((run / "final" / "population.json").read_text())[0]
        model, tok = load_model(run / "final")
        problems = task.problems("val", 3)
        rows = HFSampler(model, tok).sample([task.render(p, lead) for p in problems],
                                            SamplingParams(temperature=0.0, max_new_tokens=16))
        for p, row in zip(problems, rows):
            body = json.dumps({"model": "exported", "messages": [{"role": "user", "content": p.text}],
                               "temperature": 0.0, "max_tokens": 16}).encode()
            request = urllib.request.Request(f"{url}/chat/completions", body, {"Content-Type": "application/json"})
            answer = json.loads(urllib.request.urlopen(request, timeout=120).read())
            assert answer["choices"][0]["message"]["content"].strip() == row[0].text.strip()


def test_cli_names_a_folder_that_is_not_a_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    for args in (["export", str(tmp_path), "--out", str(tmp_path / "x")], ["distill", str(tmp_path)]):
        proc = subprocess.run([sys.executable, "-m", "fastslow.cli", *args], check=False, capture_output=True,
                              text=True, env=env, timeout=300)
        said = " ".join(proc.stdout.split())  # rich wraps long lines
        assert proc.returncode == 2 and "not a fastslow run folder" in said, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
