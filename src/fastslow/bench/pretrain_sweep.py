"""Try several pretraining recipes side by side (used on a GPU to choose the CPU recipe; see docs/BENCHMARKS.md).

Usage: python -m fastslow.bench.pretrain_sweep OUT_DIR NAME:key=value,key=value ...
Each recipe trains in its own process, then reports greedy explicit-instruction accuracy by depth and the
seed-prompt pass@16 of every named task (sampling at temperature 1).
"""

from __future__ import annotations

import json
import sys
from multiprocessing import get_context
from pathlib import Path

import torch


@torch.no_grad()
def generate(model, tok, message_lists, device, do_sample, n=1, max_new_tokens=48):
    texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in message_lists]
    outs = []
    for i in range(0, len(texts), 256):
        enc = tok(texts[i : i + 256], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        gen = model.generate(**enc, do_sample=do_sample, temperature=1.0 if do_sample else None, top_p=None,
                             top_k=None, max_new_tokens=max_new_tokens, num_return_sequences=n)
        outs += tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return outs


def evaluate(model_dir: Path, device: str) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fastslow.rulebook import NAMED_TASKS, InstructionSuite, get_task

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(device).eval()
    suite = InstructionSuite()
    probs = suite.problems("test", 600)
    outs = generate(model, tok, [suite.render(p, "") for p in probs], device, False)
    by_depth = {}
    for p, o in zip(probs, outs):
        by_depth.setdefault(str(p.metadata["depth"]), []).append(suite.score(p, o).reward)
    result = {"explicit_accuracy_by_depth": {d: sum(v) / len(v) for d, v in sorted(by_depth.items())}, "tasks": {}}
    torch.manual_seed(0)
    for name in NAMED_TASKS:
        task = get_task(name)
        vp = task.problems("val", 64)
        outs = generate(model, tok, [task.render(p, task.seed_prompt) for p in vp], device, True, n=16)
        rewards = [[task.score(p, outs[i * 16 + j]).reward for j in range(16)] for i, p in enumerate(vp)]
        explicit = generate(model, tok, [task.render(p, task.program.instruction) for p in vp], device, False)
        result["tasks"][name] = {
            "seed_prompt_accuracy": sum(map(sum, rewards)) / (16 * len(vp)),
            "seed_prompt_pass_at_16": sum(max(r) for r in rewards) / len(vp),
            "explicit_accuracy": sum(task.score(p, o).reward for p, o in zip(vp, explicit)) / len(vp),
        }
    return result


def run(name: str, overrides: dict, out_dir: Path) -> None:
    from fastslow.model.pretrain import PretrainConfig, pretrain

    torch.set_num_threads(1)
    cfg = PretrainConfig(**overrides)
    log = open(out_dir / f"{name}.log", "w")
    record = pretrain(cfg, out_dir / name, log=lambda s: (log.write(s + "\n"), log.flush()))
    record["eval"] = evaluate(out_dir / name, cfg.device)
    from fastslow.provenance import provenance

    (out_dir / f"{name}.json").write_text(json.dumps({**record, "provenance": provenance()}, indent=1))


def parse(arg: str) -> tuple[str, dict]:
    name, _, body = arg.partition(":")
    overrides = {}
    for kv in filter(None, body.split(",")):
        k, v = kv.split("=")
        overrides[k] = v if k == "device" else (float(v) if "." in v or "e-" in v else int(v))
    return name, overrides


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    ctx = get_context("spawn")
    procs = [ctx.Process(target=run, args=(*parse(a), out)) for a in sys.argv[2:]]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    for a in sys.argv[2:]:
        name = a.partition(":")[0]
        f = out / f"{name}.json"
        if f.exists():
            r = json.loads(f.read_text())
            print(name, r["train_seconds"], json.dumps(r["eval"]))
