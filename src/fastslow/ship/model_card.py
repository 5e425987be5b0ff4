"""The model card (README.md) of an exported run, generated from the run's own files: its config, its metrics log,
its population, and the provenance of the code that exported it. Nothing in it is typed by hand, so it cannot drift
from what the run did."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

MODES = {
    "fst": "Fast-Slow Training: RL (CISPO, group advantages) on the weights, and every T steps a GEPA round that "
           "evolves a population of K system prompts; each problem's G rollouts are split G/K over the prompts in "
           "one advantage group, so the weights are trained under the evolved prompts",
    "rl": "RL only (CISPO, group advantages) under the fixed seed prompt",
    "gepa": "GEPA only: the weights are the base model's, only the system prompts were evolved",
    "fst-distill": "FST-distill (paper §5.7): GEPA rounds as in FST; the weights were trained by on-policy "
                   "reverse-KL self-distillation of the model under the seed prompt towards a frozen copy under the "
                   "evolved prompt(s)",
}


def _final_eval(run: Path) -> dict:
    from fastslow.metrics import read_jsonl

    path = run / "metrics.jsonl"
    evals = [r for r in read_jsonl(path) if r.get("kind") == "eval"] if path.is_file() else []
    return evals[-1] if evals else {}


def model_card(cfg, run: Path, out: Path, population: dict, adapter: bool, weights: Path, command: str | None) -> str:
    from fastslow.provenance import provenance

    prov = provenance(command)
    config = cfg.model_dump(mode="json")
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    last = _final_eval(run)
    k = cfg.eval.k
    lead = population["lead_prompt"]
    distilled = (weights / "distill.json").is_file()
    tasks = ", ".join(f"`{t}`" for t in population["tasks"])
    front = {"library_name": "peft" if adapter else "transformers", "pipeline_tag": "text-generation",
             "tags": ["fastslow", "fast-slow-training", cfg.mode]}
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
             f"# {population['tasks'][-1]}: trained with fastslow ({cfg.mode})", "",
             f"Task(s): {tasks}. Base model: `{cfg.model.path}`. {MODES[cfg.mode]}.", ""]
    if distilled:
        report = json.loads((weights / "distill.json").read_text())
        b, a = report["before"], report["after"]
        lines += [f"These weights were then distilled with `fst distill` ({report['steps']} steps): the model under "
                  f"the {report['student_context']!r} context was trained to match the run's final weights under the "
                  f"lead prompt. Accuracy under that context {b['accuracy_student']:.3f} -> "
                  f"{a['accuracy_student']:.3f}; under the lead prompt {b['accuracy_lead']:.3f} -> "
                  f"{a['accuracy_lead']:.3f}"
                  + (f"; held-out instruction following {b['instruction_following']:.3f} -> "
                     f"{a['instruction_following']:.3f}" if "instruction_following" in b else "") + ".", ""]
    lines += ["## Use it", "",
              ("The chat template's default system message is the evolved lead prompt, so a conversation without a "
              "system message gets the context the weights were trained in; your own system message replaces it."),
              "", "```python", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
              'tok = AutoTokenizer.from_pretrained("PATH")',
              'model = AutoModelForCausalLM.from_pretrained("PATH")' if not adapter else
              'from peft import AutoPeftModelForCausalLM\nmodel = AutoPeftModelForCausalLM.from_pretrained("PATH")',
              ('ids = tok.apply_chat_template([{"role": "user", "content": "..."}], add_generation_prompt=True, '
              'return_tensors="pt")'), "out = model.generate(ids, max_new_tokens=64)", "```", "",
              "Serving: `vllm serve PATH` (the chat endpoint applies the same template)." if not adapter else
              f"The adapter's base model is `{json.loads((out / 'adapter_config.json').read_text()).get('base_model_name_or_path')}`"
              " (adapter_config.json); it must be loadable where you load the adapter.", "",
              ("Where a task's problems carry their own system text, fastslow joins it after the prompt in one "
              "system message; pass that message yourself in that case."), "",
              "## The lead prompt", "", "```text", lead, "```", "",
              "## Final metrics", ""]
    if last:
        lines += ["| metric | value |", "|---|---|", f"| step | {last.get('step')} |"]
        for key in (f"val_mean@{k}", f"val_reward@{k}", "kl_to_base", "kl_to_base_seed", "kl_to_base_lead",
                    "rl_rollouts", "reused_rollouts", "gepa_metric_calls", "gepa_rescore_calls", "reflection_calls",
                    "gepa_rounds"):
            if key in last:
                value = last[key]
                lines.append(f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |")
        lines += ["", (f"`val_mean@{k}`: validation accuracy (mean over {k} samples per problem, temperature "
                  f"{cfg.eval.temperature}) under the lead prompt, from the run's metrics.jsonl."), ""]
    else:
        lines += ["The run folder holds no metrics.jsonl evaluation.", ""]
    lines += ["## Population", "", "Every prompt of the final population (`fastslow_population.json`), lead first:", "",
              "| rank | scores | prompt |", "|---|---|---|"]
    for p in population["prompts"]:
        scores = ", ".join(f"{name} {value:.3f}" for name, value in p["scores"].items()) or "-"
        lines.append(f"| {p['rank']} | {scores} | {p['prompt'].replace('|', '/').replace(chr(10), ' ')} |")
    lines += ["", "## Provenance", "",
              f"- run config: seed {cfg.seed}, {cfg.steps} steps, B={cfg.rollout.problems_per_step}, "
              f"G={cfg.rollout.group_size}, K={1 if cfg.mode == 'rl' else cfg.population.size}, "
              f"T={cfg.population.cycle_steps}, learner {cfg.learner.loss} lr {cfg.learner.lr}"
              + (f", LoRA r={cfg.model.lora.r}" if cfg.model.lora else "") + f" (sha256 {config_hash}, below)",
              (f"- data: task(s) {tasks} with their args, drawn from their train split by the seeded stream "
              f"(seed {cfg.seed}); validation on the val split"),
              f"- exported by fastslow at commit `{prov['commit']}`" + (" (uncommitted changes)" if prov["dirty"]
                                                                         else "")
              + f", python {prov['python']}, on {prov['cpu']}; command: `{prov['command']}`",
              f"- weights from `{weights}`", "", "<details><summary>Run config</summary>", "", "```yaml",
              yaml.safe_dump(config, sort_keys=False).strip(), "```", "", "</details>", ""]
    return "\n".join(lines)
