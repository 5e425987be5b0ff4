"""Plot helpers the section figures share (matplotlib, Agg backend): seed bands on a common x grid."""

from __future__ import annotations

import numpy as np

from fastslow.experiments.analysis import running_max
from fastslow.experiments.verdicts import curve_of

COLORS = {"fst": "#1f77b4", "rl": "#d62728", "gepa": "#2ca02c", "base": "#7f7f7f", "fst-distill": "#9467bd"}


def aggregate(curves) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean/min/max over seeds on the union of x values (each seed linearly interpolated inside its own range)."""
    cs = [sorted(curve_of(c), key=lambda p: p[0]) for c in curves if len(c)]
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


def plot_band(ax, curves, label, color, runmax=False, linestyle="-"):
    agg = aggregate(curves)
    if agg is None:
        return
    xs, mean, lo, hi = agg
    ax.plot(xs, mean, color=color, label=None if label is None else f"{label} (mean, n={len(curves)})",
            linestyle=linestyle)
    ax.fill_between(xs, lo, hi, color=color, alpha=0.18, linewidth=0)
    if runmax:
        ax.plot(xs, running_max(mean), color=color, linestyle="--", linewidth=1, label=f"{label} running max")


def color(name: str, i: int) -> str:
    if name.lower() in COLORS:
        return COLORS[name.lower()]
    key = name.split("+")[0].split("-")[0].lower()
    return COLORS.get(key, f"C{i}")


def arm_curves(ax, curves: dict, xlabel: str, title: str) -> None:
    """One band per arm (GEPA-only dash-dotted), running max dashed."""
    for i, (m, cs) in enumerate(curves.items()):
        plot_band(ax, cs, m.upper(), color(m, i), runmax=True, linestyle="-." if m == "gepa" else "-")
    ax.set(xlabel=xlabel, ylabel="validation accuracy", title=title)
    ax.legend(fontsize=7)
