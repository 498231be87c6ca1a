"""Matplotlib figures shared by the experiments (PNG files).

Figures are built as :class:`matplotlib.figure.Figure` objects, not through ``pyplot``, so
importing or using this module never changes matplotlib's global backend or state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def subplots(figsize, **kwargs):
    """A new ``(figure, axes)`` pair outside pyplot's global state."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(**kwargs)


def _save(fig, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def rates_figure(rows: Sequence[dict], path, title: str = "") -> None:
    """Convergence rate with 95% interval bars; one group per optimizer, one bar per setting."""
    opts = list(dict.fromkeys(r["optimizer"] for r in rows))
    settings = list(dict.fromkeys((r["hidden"], r["learning_rate"]) for r in rows))
    fig, ax = subplots(figsize=(max(6, 1.1 * len(opts) * max(1, len(settings)) ** 0.5), 4))
    width = 0.8 / max(1, len(settings))
    for j, (h, lr) in enumerate(settings):
        xs, ys, lo, hi = [], [], [], []
        for i, o in enumerate(opts):
            for r in rows:
                if r["optimizer"] == o and (r["hidden"], r["learning_rate"]) == (h, lr):
                    xs.append(i + (j - (len(settings) - 1) / 2) * width)
                    ys.append(r["rate"])
                    lo.append(max(0.0, r["rate"] - r["ci_low"]))
                    hi.append(max(0.0, r["ci_high"] - r["rate"]))
        label = f"H={h}, lr={lr:g}" if len(settings) > 1 else None
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=label)
    ax.set_xticks(range(len(opts)), opts, rotation=30, ha="right")
    ax.set_ylabel("convergence rate")
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    if len(settings) > 1:
        ax.legend(fontsize=7, ncol=2)
    _save(fig, path)


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
    _save(fig, path)
