"""The report's figures (matplotlib, Agg backend): pure functions of the results and the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fastslow.experiments.analysis import mean_std, running_max, sigmoid
from fastslow.experiments.claims import _curve

COLORS = {"fst": "#1f77b4", "rl": "#d62728", "gepa": "#2ca02c", "base": "#7f7f7f"}


# ------------------------------------------------------------------------------------------------------ figures --


def _aggregate(curves) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean/min/max over seeds on the union of x values (each seed linearly interpolated inside its own range)."""
    cs = [sorted(_curve(c), key=lambda p: p[0]) for c in curves if len(c)]
    if not cs:
        return None
    xs = np.array(sorted({x for c in cs for x, _ in c}))
    mat = np.full((len(cs), len(xs)), np.nan)
    for i, c in enumerate(cs):
        cx, cy = np.array([p[0] for p in c]), np.array([p[1] for p in c])
        mask = (xs >= cx[0]) & (xs <= cx[-1])
        mat[i, mask] = np.interp(xs[mask], cx, cy)
    keep = np.isfinite(mat).any(axis=0)
    xs, mat = xs[keep], mat[:, keep]
    return xs, np.nanmean(mat, axis=0), np.nanmin(mat, axis=0), np.nanmax(mat, axis=0)


def _plot_band(ax, curves, label, color, runmax=False, linestyle="-"):
    agg = _aggregate(curves)
    if agg is None:
        return
    xs, mean, lo, hi = agg
    ax.plot(xs, mean, color=color, label=None if label is None else f"{label} (mean, n={len(curves)})",
            linestyle=linestyle)
    ax.fill_between(xs, lo, hi, color=color, alpha=0.18, linewidth=0)
    if runmax:
        ax.plot(xs, running_max(mean), color=color, linestyle="--", linewidth=1, label=f"{label} running max")


def _color(name: str, i: int) -> str:
    key = name.split("+")[0].split("-")[0].lower()
    return COLORS.get(key, f"C{i}")


def figures(results: dict, summary: dict, details: dict, out_dir: Path, plt) -> dict[str, str]:
    figs: dict[str, str] = {}

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        figs[name.removesuffix(".png")] = name

    de = results.get("data_efficiency")
    if de:
        curves = de.get("curves") or {}
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for i, (m, cs) in enumerate(curves.items()):
            _plot_band(ax, cs, m.upper(), _color(m, i), runmax=True, linestyle="-." if m == "gepa" else "-")
        ax.set(xlabel="training step", ylabel="validation accuracy",
               title="Validation accuracy vs step\n"
                     "(line: mean, band: min-max over seeds, dashed: running max of the mean)")
        ax.legend(fontsize=7)
        save(fig, "accuracy_vs_step.png")

        fits = summary.get("asymptote_fits") or {}
        if fits:
            fig, ax = plt.subplots(figsize=(7, 4.2))
            for i, (m, cs) in enumerate(curves.items()):
                col = _color(m, i)
                for j, c in enumerate(cs):
                    c = _curve(c)
                    ax.scatter([x for x, _ in c], [y for _, y in c], s=8, color=col, alpha=0.5,
                               label=f"{m.upper()} points" if j == 0 else None)
                    f = fits[m][j]
                    if f["ok"] and c:
                        x0 = f.get("origin") or 0.0
                        xmax = max(x for x, _ in c) - x0
                        lo, hi = f["window"]
                        xw = np.linspace(max(lo, 1e-9), hi, 200)
                        xe = np.linspace(hi, max(2 * xmax, hi), 100)
                        style = "-" if f.get("accepted") else "--"
                        tag = "fit" if f.get("accepted") else "rejected fit"
                        ax.plot(xw + x0, sigmoid(xw, f["A"], f["B"], f["C_mid"], f["R0"]), color=col, linewidth=1,
                                linestyle=style, label=f"{m.upper()} {tag} (A={100 * f['A']:.1f}%)")
                        ax.plot(xe + x0, sigmoid(xe, f["A"], f["B"], f["C_mid"], f["R0"]), color=col, linewidth=1,
                                linestyle=":")
            ax.set(xlabel="training step", ylabel="validation accuracy",
                   title="Sigmoid fits (solid: accepted, dashed: rejected, dotted: extrapolation)")
            ax.legend(fontsize=7)
            save(fig, "asymptote_fit.png")

        rc = de.get("rollout_curves") or {}
        if rc:
            fig, ax = plt.subplots(figsize=(7, 4.2))
            for i, (m, cs) in enumerate(rc.items()):
                _plot_band(ax, cs, m.upper(), _color(m, i), runmax=True, linestyle="-." if m == "gepa" else "-")
            ax.set(xlabel="total rollouts", ylabel="validation accuracy", title="Validation accuracy vs rollouts")
            ax.legend(fontsize=7)
            save(fig, "accuracy_vs_rollouts.png")

    drift = results.get("drift")
    if drift:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        deployed = drift.get("points_deployed")
        for i, (m, seeds) in enumerate((deployed or drift.get("points") or {}).items()):
            pts = [p for c in seeds for p in _curve(c)]
            ax.scatter([k for k, _ in pts], [r for _, r in pts], s=14, color=_color(m, i), alpha=0.7,
                       label=m.upper())
        ctx = "each run's deployed prompt" if deployed else "seed prompt"
        ax.set(xlabel=f"KL(π_train ‖ π_base) (token-level, context: {ctx})", ylabel="validation accuracy",
               title="KL to the base vs accuracy (all seeds pooled)")
        ax.legend(fontsize=7)
        save(fig, "kl_vs_accuracy.png")

    fg = results.get("forgetting")
    if fg:
        after = fg.get("after") or {}
        fig, ax = plt.subplots(figsize=(6, 4))
        names = list(after)
        ms = [mean_std(after[m]) for m in names]
        ax.bar(names, [v["mean"] or 0 for v in ms], yerr=[v["std"] or 0 for v in ms],
               color=[_color(m, i) for i, m in enumerate(names)], capsize=4)
        for i, m in enumerate(names):
            ax.scatter([i] * len(after[m]), after[m], color="k", s=10, zorder=3)
        ax.axhline(float(fg["before"]), color="k", linestyle="--", label="before training")
        ax.set(ylabel="held-out accuracy after training", title="Forgetting (bars: mean ± std; dots: seeds)")
        ax.legend(fontsize=7)
        save(fig, "forgetting.png")

    pl = results.get("plasticity")
    if pl:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for i, (init, cs) in enumerate((pl.get("curves") or {}).items()):
            _plot_band(ax, cs, f"{init}-init", _color(init, i))
        ax.set(xlabel="phase-2 RL step", ylabel=f"validation accuracy ({pl.get('task', '?')})",
               title="Plasticity probe: fresh RL from each initialisation")
        ax.legend(fontsize=7)
        save(fig, "plasticity.png")

    ct = results.get("continual")
    if ct:
        bounds = [tuple(b) for b in ct.get("stage_bounds") or []]
        tasks = ct.get("tasks") or []
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
        per_seed = details.get("continual_normalised") or []
        for i, m in enumerate(details.get("continual_curves") or {}):
            # one segment per stage: (stage start, start value) then the in-stage points
            for s in range(len(bounds)):
                raw, normed = [], []
                for ps in per_seed:
                    st = ps[m][s]
                    if st["start_value"] is None:
                        continue
                    raw.append([(st["start"], st["start_value"])] + list(st["points"]))
                    normed.append([(st["start"], 0.0)] + list(st["curve"]))
                label = m.upper() if s == 0 else None
                _plot_band(ax1, raw, label, _color(m, i))
                _plot_band(ax2, normed, label, _color(m, i))
        for s, (lo, hi) in enumerate(bounds):
            for ax in (ax1, ax2):
                ax.axvline(lo, color="k", linestyle=":", linewidth=0.8)
            if s < len(tasks):
                ax1.text((lo + hi) / 2, 1.0, str(tasks[s]), transform=ax1.get_xaxis_transform(), ha="center",
                         va="bottom", fontsize=8)
        ax1.set(ylabel="accuracy on current task")
        ax2.set(xlabel="training step", ylabel="normalised (0 = stage start, 1 = peak)")
        ax1.legend(fontsize=7)
        fig.suptitle("Continual learning (dotted lines: stage boundaries)", fontsize=10)
        save(fig, "continual.png")

    qd = results.get("quadrant")
    if qd:
        cells = qd.get("cells") or {}
        names = list(cells)
        ms = [mean_std(cells[c]) for c in names]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.bar(names, [v["mean"] or 0 for v in ms], yerr=[v["std"] or 0 for v in ms], capsize=4,
               color=[_color(c, i) for i, c in enumerate(names)])
        for i, c in enumerate(names):
            ax.scatter([i] * len(cells[c]), cells[c], color="k", s=10, zorder=3)
        ax.set(ylabel="pass@1", title="Weights x prompt quadrant (mean ± std; dots: seeds)")
        save(fig, "quadrant.png")
    return figs
