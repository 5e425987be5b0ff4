"""Forgetting: held-out instruction-following accuracy of the base model and of each method's final weights."""

from __future__ import annotations

from fastslow.experiments.analysis import mean_std
from fastslow.experiments.html import img, table
from fastslow.experiments.plotting import color
from fastslow.experiments.verdicts import fmt, fmt_ms

NAME = CLAIM = "forgetting"
TITLE = "Forgetting"
SUMMARY_KEYS = ("forgetting",)
PRECONDITION = "rl_improved"
PAPER = {"claim": "FST forgets less than RL (held-out instruction following after training)",
         "paper": "lower KL to the base, which predicts forgetting (RL's Razor); hero figure KL 0.07-0.25 vs "
                  "0.14-0.33",
         "values": {"kl_fst": (0.07, 0.25), "kl_rl": (0.14, 0.33)}}
RULE = "Forgetting d_i = held-out accuracy after FST - after RL."


def measure(suite) -> dict:
    from fastslow.evaluation.forgetting import instruction_following_accuracy

    p = suite.profile
    before = instruction_following_accuracy(p.model, p.forgetting_problems)
    after = {m: [instruction_following_accuracy(suite.out / f"{m}-s{s}" / "final", p.forgetting_problems)
                 for s in p.seeds] for m in p.methods}
    suite.log(f"forgetting: base {before:.3f}, after " +
              ", ".join(f"{m} {sum(v) / len(v):.3f}" for m, v in after.items()))
    return {"before": before, "after": after}


def summarise(results: dict, summary: dict, details: dict, pre: dict) -> None:
    fg = results.get("forgetting")
    summary["forgetting"] = None if not fg else {
        m: mean_std([float(fg["before"]) - float(a) for a in after]) for m, after in (fg.get("after") or {}).items()}


def claim(results: dict, summary: dict, details: dict, judge):
    fg = results.get("forgetting")
    after = (fg or {}).get("after") or {}
    if not fg or "fst" not in after or "rl" not in after:
        return None
    diffs = [float(a) - float(b) for a, b in zip(after["fst"], after["rl"])]
    f = summary["forgetting"]
    ours = f"base {fmt(float(fg['before']), True)}; points lost: " + ", ".join(f"{m} {fmt_ms(f[m], True)}" for m in f)
    return ours, judge(diffs), diffs


def figures(results: dict, summary: dict, details: dict, save, plt) -> None:
    fg = results.get("forgetting")
    if not fg:
        return
    after = fg.get("after") or {}
    fig, ax = plt.subplots(figsize=(6, 4))
    names = list(after)
    ms = [mean_std(after[m]) for m in names]
    ax.bar(names, [v["mean"] or 0 for v in ms], yerr=[v["std"] or 0 for v in ms],
           color=[color(m, i) for i, m in enumerate(names)], capsize=4)
    for i, m in enumerate(names):
        ax.scatter([i] * len(after[m]), after[m], color="k", s=10, zorder=3)
    ax.axhline(float(fg["before"]), color="k", linestyle="--", label="before training")
    ax.set(ylabel="held-out accuracy after training", title="Forgetting (bars: mean ± std; dots: seeds)")
    ax.legend(fontsize=7)
    save(fig, "forgetting.png")


def html(results: dict, summary: dict, figs: dict, out_dir) -> str:
    fg = results["forgetting"]
    rows = [[m, fmt_ms(mean_std(fg["after"][m]), True), fmt_ms(v, True)] for m, v in summary["forgetting"].items()]
    return (img(out_dir, figs, "forgetting") + f"<p>Accuracy before training: {fmt(fg['before'], True)}</p>"
            + table(["method", "after", "drop (before - after)"], rows))
