"""Issue 21: the false-acceptance rate of the acceptance rules, measured on pairs of equally good prompts.

"Equally good" is exact here: the *same* prompt, scored twice with different rollout seeds. A rule that accepts the
second copy as better than the first would accept an equally good junk prompt at that rate. The bank: the demo's
base model on ``cipher`` at the training temperature, ``--problems`` train problems x ``--rollouts`` independent
rollouts each, for two prompts (the task's seed prompt, and a prompt stating a rule, from a demo run's lead).
Trials resample the bank: a random anchor set of n problems, disjoint rollout indices for the incumbent and each
challenger (independent draws, the worst case: under common random numbers an equally good prompt's rollouts are
positively correlated with the incumbent's and pass less often).

Two simulated prompts join them (per-problem success rates drawn from Beta(2m, 2(1 - m)) with means 0.2 and
0.5, 0/1 draws): the base model solves cipher rarely, and false acceptance matters most at mid-range accuracy.

Rules measured:
  * minibatch rules (3 problems, one rollout, gepa's acceptance hook): improvement_or_equal, strict_improvement,
    paired (z = 1.645);
  * the gated rule's anchor test, one challenger (per-test rate) and m challengers (per-round rate, Bonferroni
    ``incumbent.family_z``), for anchor sizes 16 and 24 and rollouts_per_anchor 1 and 2;
  * the default rule, ``selection: protected`` with confirmation (one rollout per anchor problem, then 2 more for
    the incumbent and the 2 closest challengers, tested again): two looks, through the production functions;
  * power: the rule-stating prompt against the seed prompt (a genuinely better prompt), same trials.

  python -m fastslow.bench.false_acceptance --out docs/results/selection-false-acceptance.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

RULE_PROMPT = ("Transform the input. Reverse the string, then shift each letter forward by 2, then swap each "
               "adjacent pair of letters.")


def bank(problems: int, rollouts: int, prompts: list[str], seed: int, model_path: str) -> dict:
    """prompt -> [[0/1 per rollout] per problem], sampled with per-row seeds."""
    import torch

    torch.set_num_threads(1)
    from fastslow.fastweights.adapter import row_seed
    from fastslow.model.base import load_model
    from fastslow.rl.rollouts import to_rollout
    from fastslow.rulebook import get_task
    from fastslow.sampling import HFSampler, SamplingParams

    model, tok = load_model(model_path)
    task = get_task("cipher")
    probs = task.problems("train", problems)
    sampler = HFSampler(model, tok)
    params = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=48, seed=None)
    out = {}
    for prompt in prompts:
        rows = [(p, j) for p in probs for j in range(rollouts)]
        texts = [task.render(p, prompt) for p, _ in rows]
        seeds = [row_seed(seed, ("fa", p.id, j)) for p, j in rows]
        comps = sampler.sample(texts, params, seeds=seeds)
        scores = [float(to_rollout(task, p, 0, prompt, c[0]).correct) for (p, _), c in zip(rows, comps)]
        out[prompt] = [scores[i * rollouts:(i + 1) * rollouts] for i in range(len(probs))]
    return out


def trials(b: dict, inc: str, chal: str, n: int, r: int, m: int, z: float, count: int, rng) -> float:
    """Share of trials where at least one of ``m`` challengers beats the incumbent under the gated rule."""
    from fastslow.fastweights.acceptance import paired
    from fastslow.fastweights.incumbent import family_z

    zf = family_z(z, m)
    rollouts = len(b[inc][0])
    hits = 0
    for _ in range(count):
        idx = rng.sample(range(len(b[inc])), n)
        cols = rng.sample(range(rollouts), r * (m + 1))
        v = [[sum(b[inc if k == 0 else chal][i][c] for c in cols[k * r:(k + 1) * r]) / r for i in idx]
             for k in range(m + 1)]
        hits += any(paired(v[k], v[0]).beats(zf) for k in range(1, m + 1))
    return hits / count


def confirm_trials(b: dict, inc: str, chal: str, n: int, m: int, extra: int, limit: int, z: float, count: int,
                   rng) -> float:
    """Share of trials where the incumbent is replaced under the default rule with confirmation: one rollout per
    anchor problem, then ``extra`` more for the incumbent and the ``limit`` closest challengers (ahead, not beyond
    noise) and the test again, through the production functions (``incumbent.close_challengers``,
    ``incumbent.gated_population``): two looks, so above the single test's rate."""
    from fastslow.fastweights.incumbent import close_challengers, gated_population

    rollouts = len(b[inc][0])
    if 1 + extra + m + limit * extra > rollouts:
        raise ValueError(f"the bank has {rollouts} rollouts per problem; confirmation needs "
                         f"{1 + extra + m + limit * extra}")
    hits = 0
    for _ in range(count):
        idx = rng.sample(range(len(b[inc])), n)
        cols = iter(rng.sample(range(rollouts), rollouts))
        first = [next(cols) for _ in range(m + 1)]
        source = [inc] + [chal] * m
        prompts = ["incumbent"] + [f"challenger {k}" for k in range(m)]
        subscores = [{i: b[source[k]][j][first[k]] for i, j in enumerate(idx)} for k in range(m + 1)]
        groups = [[i] for i in range(n)]
        for k in [0, *close_challengers(prompts, subscores, groups, z, limit)]:
            for e in range(extra):
                col = next(cols)
                subscores[k].update({(e + 1) * n + i: b[source[k]][j][col] for i, j in enumerate(idx)})
        for i in range(n):
            groups[i].extend((e + 1) * n + i for e in range(extra))
        hits += gated_population(prompts, subscores, groups, 2, z, explore=True).replaced
    return hits / count


def minibatch(b: dict, inc: str, chal: str, rule: str, count: int, rng) -> float:
    from fastslow.fastweights.acceptance import PairedAcceptance

    rollouts = len(b[inc][0])
    hits = 0
    for _ in range(count):
        idx = rng.sample(range(len(b[inc])), 3)
        a, c = rng.sample(range(rollouts), 2)
        before, after = [b[inc][i][a] for i in idx], [b[chal][i][c] for i in idx]
        if rule == "improvement_or_equal":
            hits += sum(after) >= sum(before)
        elif rule == "strict_improvement":
            hits += sum(after) > sum(before)
        else:
            class P:
                subsample_scores_before, subsample_scores_after = before, after
            hits += PairedAcceptance().should_accept(P, None)
    return hits / count


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--problems", type=int, default=160)
    ap.add_argument("--rollouts", type=int, default=12)  # >= 2 x (5 + 1): r = 2, m = 5
    ap.add_argument("--trials", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="base", help="the policy: 'base', or a trained run's final/ folder (where "
                    "the rule-stating prompt scores mid-range, the noisiest case for 0/1 rewards)")
    args = ap.parse_args(argv)
    from fastslow.provenance import provenance
    from fastslow.rulebook import get_task

    # the record of the code that runs, taken now (the tree may change while the trials run)
    command = "python -m fastslow.bench.false_acceptance " + " ".join(sys.argv[1:] if argv is None else argv)
    record = provenance(command)
    seed_prompt = get_task("cipher").seed_prompt
    b = bank(args.problems, args.rollouts, [seed_prompt, RULE_PROMPT], args.seed, args.model)
    rng = random.Random(args.seed)
    named = [("seed", seed_prompt), ("rule", RULE_PROMPT)]
    for mean in (0.2, 0.5):  # simulated mid-range prompts: per-problem rates p_i ~ Beta(2m, 2(1-m)), 0/1 draws
        name = f"simulated p~{mean:g}"
        rates = [rng.betavariate(2 * mean, 2 * (1 - mean)) for _ in range(args.problems)]
        b[name] = [[float(rng.random() < q) for _ in range(args.rollouts)] for q in rates]
        named.append((name, name))
    acc = {name: sum(map(sum, b[p])) / (args.problems * args.rollouts) for name, p in named}
    rows = []
    for name, p in named:
        for rule in ("improvement_or_equal", "strict_improvement", "paired"):
            rows.append({"kind": "minibatch", "prompt": name, "rule": rule, "n": 3, "r": 1, "m": 1,
                         "rate": minibatch(b, p, p, rule, args.trials, rng)})
        for n in (16, 24):
            for r in (1, 2):
                for m in (1, 5):
                    rows.append({"kind": "anchor", "prompt": name, "rule": "gated", "n": n, "r": r, "m": m,
                                 "rate": trials(b, p, p, n, r, m, 1.645, args.trials, rng)})
    power = []
    for n in (16, 24):
        for r in (1, 2):
            for m in (1, 5):
                power.append({"n": n, "r": r, "m": m,
                              "rate": trials(b, seed_prompt, RULE_PROMPT, n, r, m, 1.645, args.trials, rng)})
    power += [{"n": 3, "r": 1, "m": 1, "rule": rule, "rate": minibatch(b, seed_prompt, RULE_PROMPT, rule,
                                                                        args.trials, rng)}
              for rule in ("improvement_or_equal", "strict_improvement", "paired")]
    # the default rule (selection: protected, confirm_rollouts 2, confirm_max 2); after the rows above, so that
    # their random draws are those of earlier runs of this benchmark
    for name, p in named:
        for n in (16, 24):
            for m in (1, 5):
                rows.append({"kind": "confirm", "prompt": name, "rule": "protected", "n": n, "r": 1, "m": m,
                             "extra": 2, "rate": confirm_trials(b, p, p, n, m, 2, 2, 1.645, args.trials, rng)})
    for n in (16, 24):
        for m in (1, 5):
            power.append({"n": n, "r": 1, "m": m, "extra": 2, "rule": "protected",
                          "rate": confirm_trials(b, seed_prompt, RULE_PROMPT, n, m, 2, 2, 1.645, args.trials, rng)})
    result = {"task": "cipher", "model": args.model, "problems": args.problems, "rollouts": args.rollouts,
              "trials": args.trials, "z": 1.645, "accuracy": acc, "rule_prompt": RULE_PROMPT,
              "false_acceptance": rows, "power_rule_vs_seed": power, "provenance": record}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    for row in rows:
        print(row)
    for row in power:
        print("power", row)


if __name__ == "__main__":
    main()
