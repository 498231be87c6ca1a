"""Matplotlib figures shared by the experiments (PNG files).

Figures are built as :class:`matplotlib.figure.Figure` objects, not through ``pyplot``, so
importing or using this module never changes matplotlib's global backend or state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rnn_jax._src.runs import files


def subplots(figsize, **kwargs):
    """A new ``(figure, axes)`` pair outside pyplot's global state."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(**kwargs)


def save(fig, path) -> Path:
    """Writes ``fig`` as a PNG atomically (never through a link); returns the path."""
    path = Path(path)
    fig.tight_layout()
    files.atomic_write_bytes(path, files.figure_bytes(fig))
    return path


def _errors(rows):
    rate = np.array([r["rate"] for r in rows])
    lo = np.array([r["ci_low"] for r in rows])
    hi = np.array([r["ci_high"] for r in rows])
    return rate, np.maximum(0.0, rate - lo), np.maximum(0.0, hi - rate)


def rates_figure(rows: Sequence[dict], path, title: str = "") -> None:
    """Convergence rate per optimizer: a point with its 95% interval for each row.

    Args:
      rows: :func:`rnn_jax.stats.table_row` dicts (``optimizer``, ``rate``, ``ci_low``,
        ``ci_high``, and the hyperparameters such as ``learning_rate``); one per optimizer.
      path: the PNG to write.
    """
    fig, ax = subplots(figsize=(max(5.0, 1.3 * len(rows) + 1.5), 3.8))
    rate, lo, hi = _errors(rows)
    xs = np.arange(len(rows))
    ax.errorbar(xs, rate, yerr=[lo, hi], fmt="o", capsize=4, color="C0")
    for x, y in zip(xs, rate):
        ax.annotate(f"{y:.2f}", (x, y), textcoords="offset points", xytext=(8, -3), fontsize=8)
    labels = [
        r["optimizer"] + (f"\nlr {r['learning_rate']:g}" if "learning_rate" in r else "")
        for r in rows
    ]
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("convergence rate (95% CI)")
    ax.set_ylim(0, 1.02)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)


def rate_curve_figure(
    rows: Sequence[dict],
    path,
    x: str = "learning_rate",
    group: str = "optimizer",
    title: str = "",
    logx: bool = True,
) -> None:
    """Rate against a swept hyperparameter ``x``, one line per ``group`` value, with the 95%
    intervals as bands (rows as in :func:`rates_figure`)."""
    fig, ax = subplots(figsize=(6.4, 4.0))
    for i, g in enumerate(dict.fromkeys(r[group] for r in rows)):
        sub = sorted((r for r in rows if r[group] == g), key=lambda r: r[x])
        xs = np.array([r[x] for r in sub], float)
        rate = np.array([r["rate"] for r in sub])
        ax.plot(xs, rate, "o-", color=f"C{i}", label=f"{group} {g}", ms=4)
        ax.fill_between(xs, [r["ci_low"] for r in sub], [r["ci_high"] for r in sub],
                        color=f"C{i}", alpha=0.2, lw=0)  # fmt: skip
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel("convergence rate (95% CI band)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)


def heatmap_figure(rows: Sequence[dict], path, x: str, y: str, title: str = "") -> None:
    """Convergence rate over two swept settings (``x`` across, ``y`` up), each cell
    annotated with its rate and 95% interval."""
    xv = sorted({r[x] for r in rows})
    yv = sorted({r[y] for r in rows})
    grid = np.full((len(yv), len(xv)), np.nan)
    text = {}
    for r in rows:
        i, j = yv.index(r[y]), xv.index(r[x])
        grid[i, j] = r["rate"]
        text[i, j] = f"{r['rate']:.2f}\n[{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
    fig, ax = subplots(figsize=(1.2 * len(xv) + 2.5, 0.6 * len(yv) + 1.8))
    im = ax.imshow(grid, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis")
    for (i, j), t in text.items():
        ax.text(j, i, t, ha="center", va="center", fontsize=7,
                color="white" if grid[i, j] < 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(len(xv)), [f"{v:g}" for v in xv])
    ax.set_yticks(range(len(yv)), [f"{v:g}" for v in yv])
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    fig.colorbar(im, ax=ax, label="convergence rate")
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)


def loss_bands_figure(update, loss, converged, path, title: str = "",
                      ylabel: str = "training loss") -> None:  # fmt: skip
    """Loss curves over seeds: median and 10–90% band, converged and failed seeds apart.

    Args:
      update: ``[E]`` update index of each evaluation.
      loss: ``[n, E]`` one curve per seed.
      converged: ``[n]`` booleans.
    """
    update, loss = np.asarray(update), np.asarray(loss, float)
    converged = np.asarray(converged, bool)
    fig, ax = subplots(figsize=(6.4, 4.0))
    for mask, name, color in [(converged, "converged", "C0"), (~converged, "not converged", "C3")]:
        if not mask.any():
            continue
        part = loss[mask]
        q10, q50, q90 = np.nanquantile(part, [0.1, 0.5, 0.9], axis=0)
        ax.plot(update, q50, color=color, label=f"{name} ({mask.sum()} seeds): median")
        ax.fill_between(update, q10, q90, color=color, alpha=0.2, lw=0, label="10–90% of seeds")
    ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)


def ecdf_figure(series: dict, budget: int, path, title: str = "") -> None:
    """Fraction of seeds converged by update *t*, one step curve per name.

    Args:
      series: ``{name: (steps_to_converge [n], converged [n])}``; the curve ends at the rate.
      budget: the last update (the x-axis ends there).
    """
    fig, ax = subplots(figsize=(6.4, 4.0))
    for i, (name, (steps, conv)) in enumerate(series.items()):
        steps, conv = np.asarray(steps), np.asarray(conv, bool)
        n = conv.size
        done = np.sort(steps[conv])
        xs = np.concatenate([[0], done, [budget]])
        ys = np.concatenate([[0], np.arange(1, done.size + 1) / n, [done.size / n]])
        ax.step(xs, ys, where="post", color=f"C{i}", label=f"{name} ({done.size}/{n})")
    ax.set_xlim(0, budget)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("update")
    ax.set_ylabel("fraction of seeds converged")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)


def xy_figure(
    x, y, path, xlabel: str, ylabel: str, title: str = "", ylim=(0, 1.02), logx: bool = False
) -> None:
    """One labelled curve of points ``y`` over a real axis ``x`` (e.g. accuracy by length;
    ``logx`` puts ``x`` on a base-2 log axis, ticks at the points)."""
    fig, ax = subplots(figsize=(5.6, 3.6))
    ax.plot(np.asarray(x), np.asarray(y), "o-")
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xticks(np.asarray(x), [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)


def curve_figure(
    curves: dict[str, np.ndarray],
    path,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool = True,
) -> None:
    """Several named 1-D curves on one axis."""
    fig, ax = subplots(figsize=(6, 3.6))
    for name, y in curves.items():
        ax.plot(np.arange(len(y)), y, label=name, lw=1.2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    save(fig, path)
