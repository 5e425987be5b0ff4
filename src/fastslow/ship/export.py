"""``fst export RUN --out DIR``: a Hugging Face model folder that behaves as trained, loadable with no fastslow.

FST trains the weights *under* the evolved lead prompt, so a bare model folder would be deployed in the wrong
context. The export therefore holds:

* the weights: merged into one full model (a LoRA run's adapter folded into its base), or with ``--adapter`` the
  adapter alone (``adapter_config.json`` then names the base it was trained on);
* a chat template whose *default* system message is the lead prompt: ``apply_chat_template`` without a system
  message renders exactly the context fastslow trained and evaluated in, while a caller's own system message still
  wins (the original template is kept unchanged after a two-line prefix, so vLLM, TGI and transformers render it
  alike);
* ``fastslow_population.json``: every prompt of the final population with its scores per task;
* ``README.md``: a model card generated from the run (``fastslow.ship.model_card``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastslow.errors import FastSlowError
from fastslow.ship.distill import read_run

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


class ExportError(FastSlowError):
    """The export cannot be made as asked (e.g. ``--adapter`` for a run without one, a non-empty output folder)."""


def with_default_system(template: str, system: str) -> str:
    """``template`` with ``system`` as the system message when the conversation has none. The prompt is embedded
    as a JSON string literal (Jinja reads the same escapes), so quotes, newlines and braces in it are safe."""
    literal = json.dumps(system, ensure_ascii=True)
    prefix = ("{%- if not (messages and messages[0]['role'] == 'system') %}"
              f"{{%- set messages = [{{'role': 'system', 'content': {literal}}}] + messages %}}"
              "{%- endif %}")
    return prefix + template


def last_gepa_scores(run: Path) -> dict[str, float]:
    """Each prompt's mean anchor score in the run's last GEPA round (under the weights of that moment)."""
    from fastslow.metrics import read_jsonl

    metrics = Path(run) / "metrics.jsonl"
    rounds = [r for r in read_jsonl(metrics) if r.get("kind") == "gepa"] if metrics.is_file() else []
    if not rounds:
        return {}
    return dict(zip(rounds[-1]["population"], rounds[-1]["population_scores"]))


def population_record(cfg, run: Path, population: list[str], model, tokenizer, eval_problems: int) -> dict:
    """``fastslow_population.json``: every prompt (lead first) with its last-round GEPA anchor score and, unless
    ``eval_problems`` is 0, its validation accuracy per task measured now with the exported weights."""
    from fastslow.evaluation.accuracy import evaluate
    from fastslow.sampling import HFSampler, SamplingParams
    from fastslow.trainer import build_tasks, derived_seed

    gepa = last_gepa_scores(run)
    tasks = build_tasks(cfg)
    sampler = HFSampler(model, tokenizer, chat_template_kwargs=cfg.model.chat_template_kwargs)
    params = SamplingParams(temperature=cfg.eval.temperature, top_p=cfg.eval.top_p,
                            max_new_tokens=cfg.rollout.max_new_tokens, seed=derived_seed(cfg.seed, 0, 2))
    prompts, measured = [], {}
    for rank, prompt in enumerate(population):
        scores = {}
        if prompt in gepa:
            scores[f"gepa_anchor/{tasks[-1].name}"] = gepa[prompt]
        for task in tasks if eval_problems else ():
            if prompt not in measured:
                measured[prompt] = {}
            if task.name not in measured[prompt]:
                val = task.problems("val", eval_problems)
                measured[prompt][task.name] = evaluate(sampler, task, val, prompt, params, k=cfg.eval.k).mean
            scores[f"val_mean@{cfg.eval.k}/{task.name}"] = measured[prompt][task.name]
        prompts.append({"rank": rank, "prompt": prompt, "scores": scores})
    return {"lead_prompt": population[0], "seed_prompt": tasks[0].seed_prompt, "tasks": [t.name for t in tasks],
            "eval": {"problems": eval_problems, "k": cfg.eval.k, "temperature": cfg.eval.temperature,
                     "split": "val"}, "prompts": prompts}


def export_run(run: Path, out: Path, adapter: bool = False, weights: Path | None = None, eval_problems: int = 32,
               command: str | None = None, overwrite: bool = False) -> Path:
    """Write the export of ``run`` to ``out`` (see the module docstring); ``weights`` replaces the run's final/
    weights (e.g. the folder ``fst distill`` wrote). Returns ``out``."""
    from transformers import AutoTokenizer

    from fastslow.model.base import load_model
    from fastslow.ship.model_card import model_card

    cfg, final, population = read_run(run)
    source = Path(weights) if weights is not None else final
    if not source.is_dir():
        raise ExportError(f"weights folder {str(source)!r} does not exist")
    is_adapter = (source / "adapter_config.json").is_file() and not (source / "config.json").is_file()
    if adapter and not is_adapter:
        raise ExportError(f"--adapter: {str(source)!r} holds full weights, not a LoRA adapter (train with model.lora "
                          "and model.export: adapter, or export merged weights without --adapter)")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ExportError(f"output folder {str(out)!r} is not empty (pass --overwrite to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model(source)  # an adapter folder comes back merged into its base (for the scores)
    if adapter:
        for name in ADAPTER_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, out / name)
    else:
        model.save_pretrained(out)
    # the tokenizer is saved as its folder had it (fastslow's loader sets left padding and a pad token in memory)
    has_tokenizer = (source / "tokenizer_config.json").is_file()
    tokenizer_source = source if has_tokenizer else json.loads((source / "adapter_config.json").read_text()).get(
        "base_model_name_or_path")
    saved = AutoTokenizer.from_pretrained(tokenizer_source, local_files_only=True)
    template = saved.chat_template
    if isinstance(template, dict):  # several named templates: the default one gets the prompt
        template = template.get("default") or next(iter(template.values()))
    saved.chat_template = with_default_system(template, population[0])
    saved.save_pretrained(out)
    record = population_record(cfg, run, population, model, tokenizer, eval_problems)
    (out / "fastslow_population.json").write_text(json.dumps(record, indent=2))
    (out / "README.md").write_text(model_card(cfg, Path(run), out, record, adapter=adapter, weights=source,
                                              command=command))
    return out
