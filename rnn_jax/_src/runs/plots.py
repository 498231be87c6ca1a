"""Matplotlib figures shared by the experiments (PNG files).

Figures are built as :class:`matplotlib.figure.Figure` objects, not through ``pyplot``, so
importing or using this module never changes matplotlib's global backend or state. Each figure
function writes its PNG through :func:`save` and returns the figure, so a caller (or a test)
can inspect what was drawn.

No figure drops a point: a log axis is used only where every value drawn on it is positive;
otherwise a ``'symlog'`` axis (logarithmic away from zero, linear within the smallest nonzero
magnitude drawn) keeps zeros and negative values on the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rnn_jax._src.runs import files

#: Rates lie in [0, 1]; the margin keeps a point at 0 or 1 (and its marker) inside the axes.
_RATE_YLIM = (-0.02, 1.02)


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


def _axis_scale(values, log: bool | None, base: float = 10) -> tuple[str, dict]:
    """The scale for an axis showing ``values`` (finite ones count; NaN and inf are ignored).

    Args:
      values: the numbers drawn on the axis, any shape.
      log: ``None`` chooses from the data: logarithmic when every value is > 0 and they span
        at least two decades (``max / min >= 100``), linear otherwise. ``True``: logarithmic,
        or ``'symlog'`` when a value is <= 0 (``linthresh`` the smallest nonzero magnitude, so
        zero and negative values stay on the axis). ``False``: linear.
      base: the logarithm's base.

    Returns:
      ``(name, kwargs)`` for ``ax.set_xscale(name, **kwargs)`` (or ``set_yscale``).

    Example:
      >>> _axis_scale([0.0, 0.5, 0.9], log=None)
      ('linear', {})
      >>> _axis_scale([1e-3, 1e-2, 1e-1], log=None)
      ('log', {'base': 10})
      >>> _axis_scale([0.0, 1e-3, 1e-1], log=True)
      ('symlog', {'base': 10, 'linthresh': 0.001})
    """
    v = np.asarray(values, float).ravel()
    v = v[np.isfinite(v)]
    if log is None:
        log = v.size > 0 and bool(np.all(v > 0)) and v.max() >= 100 * v.min()
    if not log or v.size == 0:
        return "linear", {}
    if np.all(v > 0):
        return "log", {"base": base}
    nonzero = np.abs(v[v != 0])
    return "symlog", {"base": base, "linthresh": float(nonzero.min()) if nonzero.size else 1.0}


def _errors(rows):
    rate = np.array([r["rate"] for r in rows], float)
    lo = np.array([r["ci_low"] for r in rows], float)
    hi = np.array([r["ci_high"] for r in rows], float)
    return rate, np.maximum(0.0, rate - lo), np.maximum(0.0, hi - rate)


def rates_figure(rows: Sequence[dict], path, title: str = "", xlabel: str = "optimizer") -> Figure:
    """Convergence rate per optimizer: a point with its 95% interval (error bar) for each row,
    the rows side by side in the order given.

    Args:
      rows: ``n`` :func:`rnn_jax.stats.table_row` dicts (``optimizer``, ``rate``, ``ci_low``,
        ``ci_high``, and the hyperparameters such as ``learning_rate``); one per optimizer.
      path: the PNG to write.
      title: drawn above the axes.
      xlabel: the x axis's label (each row's ``optimizer`` labels its tick).

    Returns:
      the figure written: one axes, the ``n`` points at ``x = 0 … n-1``.
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
    ax.set_xlabel(xlabel)
    ax.set_ylabel("convergence rate (95% CI)")
    ax.set_ylim(*_RATE_YLIM)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)
    return fig


def rate_curve_figure(
    rows: Sequence[dict],
    path,
    x: str = "learning_rate",
    group: str = "optimizer",
    title: str = "",
    logx: bool | None = None,
) -> Figure:
    """Rate against a swept hyperparameter ``x``, one line per ``group`` value, with the 95%
    intervals as bands.

    Args:
      rows: ``n`` dicts as in :func:`rates_figure`, each with the keys ``x`` and ``group``.
      path: the PNG to write.
      x: the swept setting (numbers) on the horizontal axis.
      group: one line per distinct value, in order of first appearance.
      title: drawn above the axes.
      logx: the x axis's scale. ``None`` (default) chooses from the data: log only when
        every ``x`` is > 0 and they span at least two decades (``max / min >= 100``), linear
        otherwise. ``True``: log, or ``'symlog'`` when a value is <= 0 (linear within the
        smallest nonzero ``|x|``, log beyond), so a swept momentum or decay of 0 stays on the
        figure where a plain log axis would silently leave it out. ``False``: linear.

    Returns:
      the figure written: one axes with, per group, a line through its points sorted by ``x``
      and a band from ``ci_low`` to ``ci_high``.

    Example:
      >>> import tempfile
      >>> rows = [{"optimizer": "momentum", "momentum": m, "rate": r, "ci_low": r - 0.1,
      ...          "ci_high": r + 0.1} for m, r in [(0.0, 0.3), (0.5, 0.5), (0.9, 0.8)]]
      >>> with tempfile.TemporaryDirectory() as d:
      ...     fig = rate_curve_figure(rows, Path(d) / "rate.png", x="momentum")
      >>> fig.axes[0].get_xscale(), len(fig.axes[0].lines[0].get_xdata())
      ('linear', 3)
    """
    fig, ax = subplots(figsize=(6.4, 4.0))
    for i, g in enumerate(dict.fromkeys(r[group] for r in rows)):
        sub = sorted((r for r in rows if r[group] == g), key=lambda r: r[x])
        xs = np.array([r[x] for r in sub], float)
        rate = np.array([r["rate"] for r in sub], float)
        ax.plot(xs, rate, "o-", color=f"C{i}", label=f"{group} {g}", ms=4)
        ax.fill_between(xs, [r["ci_low"] for r in sub], [r["ci_high"] for r in sub],
                        color=f"C{i}", alpha=0.2, lw=0)  # fmt: skip
    scale, kwargs = _axis_scale([r[x] for r in rows], logx)
    ax.set_xscale(scale, **kwargs)
    ax.set_xlabel(x.replace("_", " ") + (" (symlog)" if scale == "symlog" else ""))
    ax.set_ylabel("convergence rate (95% CI band)")
    ax.set_ylim(*_RATE_YLIM)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)
    return fig


def heatmap_figure(rows: Sequence[dict], path, x: str, y: str, title: str = "") -> Figure:
    """Convergence rate over two swept settings (``x`` across, ``y`` up), each cell
    annotated with its rate and 95% interval.

    Args:
      rows: dicts as in :func:`rates_figure`, each with the keys ``x`` and ``y``; at most one
        row per ``(x, y)`` cell (a second one raises ``ValueError`` rather than hide the
        first). Cells without a row are left blank.
      path: the PNG to write.
      x, y: the settings across and up, drawn in sorted order at ``0 … len - 1``.
      title: drawn above the axes.

    Returns:
      the figure written: the heatmap's axes (an image of shape ``[len(y values), len(x
      values)]``, one text per row) and its colour bar's.
    """
    xv = sorted({r[x] for r in rows})
    yv = sorted({r[y] for r in rows})
    grid = np.full((len(yv), len(xv)), np.nan)
    text = {}
    for r in rows:
        i, j = yv.index(r[y]), xv.index(r[x])
        if (i, j) in text:
            raise ValueError(f"two rows for the cell {x}={r[x]!r}, {y}={r[y]!r}")
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
    return fig


def loss_bands_figure(update, loss, converged, path, title: str = "",
                      ylabel: str = "training loss") -> Figure:  # fmt: skip
    """Loss curves over seeds: median and 10–90% band, converged and failed seeds apart.

    Non-finite losses (NaN or inf: a diverged seed's evaluations) are left out of the
    quantiles at the updates where they occur, and the legend says how many seeds of the group
    have one; an update where no seed of a group has a finite loss leaves a gap, and a group
    with no finite loss at all gets a legend entry saying so instead of a line. The y axis is
    logarithmic, or ``'symlog'`` (linear within the smallest nonzero value drawn) when a drawn
    quantile is <= 0, so a loss of exactly 0 stays on the figure. With a single evaluation
    (``E = 1``) the median is a marker and the band a vertical bar.

    Args:
      update: ``[E]`` update index of each evaluation.
      loss: ``[n, E]`` one curve per seed.
      converged: ``[n]`` booleans.
      path: the PNG to write.
      title: drawn above the axes.
      ylabel: the y axis's label.

    Returns:
      the figure written: one axes with, per group present, a median line of ``E`` points
      (``ax.lines``) and a 10–90% band (``ax.collections``).
    """
    update, loss = np.asarray(update, float), np.asarray(loss, float)
    converged = np.asarray(converged, bool)
    if loss.ndim != 2 or loss.shape[1] != update.size or converged.shape != loss.shape[:1]:
        raise ValueError(
            f"loss must be [n, E] with update [E] and converged [n], got loss {loss.shape}, "
            f"update {update.shape} and converged {converged.shape}"
        )
    finite = np.isfinite(loss)
    fig, ax = subplots(figsize=(6.4, 4.0))
    drawn = []
    for mask, name, color in [(converged, "converged", "C0"), (~converged, "not converged", "C3")]:
        if not mask.any():
            continue
        part, ok = np.where(finite[mask], loss[mask], np.nan), finite[mask]
        seeds = f"{name} ({mask.sum()} seeds"
        bad = int(np.sum(~ok.all(axis=1)))
        if bad:
            seeds += f"; NaN/inf losses of {bad} left out"
        if not ok.any():
            ax.plot([], [], color=color, label=f"{seeds}): no finite loss, not drawn")
            continue
        cols = ok.any(axis=0)
        q = np.full((3, update.size), np.nan)
        q[:, cols] = np.nanquantile(part[:, cols], [0.1, 0.5, 0.9], axis=0)
        one = update.size == 1
        ax.plot(update, q[1], color=color, marker="o" if one else None, label=f"{seeds}): median")
        band = f"{name}: 10–90% of seeds"
        if one:
            ax.vlines(update, q[0], q[2], color=color, alpha=0.3, lw=8, label=band)
        else:
            ax.fill_between(update, q[0], q[2], color=color, alpha=0.2, lw=0, label=band)
        drawn.append(q)
    scale, kwargs = _axis_scale(drawn, log=True)
    ax.set_yscale(scale, **kwargs)
    ax.set_xlabel("update")
    ax.set_ylabel(ylabel + (" (symlog)" if scale == "symlog" else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)
    return fig


def ecdf_figure(series: dict, budget: int, path, title: str = "") -> Figure:
    """Fraction of seeds converged by update *t*, one step curve per name.

    Args:
      series: ``{name: (first_converged_update [n], converged [n])}``; the curve ends at the rate.
      budget: the last update (the x axis ends just past it, or past the last converged step
        if later).
      path: the PNG to write.
      title: drawn above the axes.

    Returns:
      the figure written: one axes with one step line per name, through ``(0, 0)``, the points
      ``(k-th smallest step, k / n)`` of the converged seeds, and ``(budget, rate)``.
    """
    fig, ax = subplots(figsize=(6.4, 4.0))
    right = budget
    for i, (name, (steps, conv)) in enumerate(series.items()):
        steps, conv = np.asarray(steps), np.asarray(conv, bool)
        n = conv.size
        done = np.sort(steps[conv])
        xs = np.concatenate([[0], done, [budget]])
        ys = np.concatenate([[0], np.arange(1, done.size + 1) / n, [done.size / n]])
        ax.step(xs, ys, where="post", color=f"C{i}", label=f"{name} ({done.size}/{n})")
        right = max(right, float(done[-1])) if done.size else right
    ax.set_xlim(-0.02 * right, 1.02 * right)  # a step at update 0 or at the end stays in view
    ax.set_ylim(*_RATE_YLIM)
    ax.set_xlabel("update")
    ax.set_ylabel("fraction of seeds converged")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)
    return fig


def xy_figure(
    x,
    y,
    path,
    xlabel: str,
    ylabel: str,
    title: str = "",
    ylim=(-0.02, 1.02),
    logx: bool | None = False,
) -> Figure:
    """One labelled curve of points ``y`` over a real axis ``x`` (e.g. accuracy by length),
    x ticks at the points.

    Args:
      x, y: ``[n]`` numbers each.
      path: the PNG to write.
      xlabel, ylabel: the axes' labels.
      title: drawn above the axes.
      ylim: the y range to show (``None``: matplotlib's; the default fits fractions with a
        margin); it is widened to take in every finite ``y`` outside it, so no point is left
        off the figure.
      logx: ``True``: a base-2 log x axis, or a base-2 ``'symlog'`` one when an ``x`` is <= 0
        (no point is left out); ``None`` chooses as :func:`rate_curve_figure` does; ``False``
        (default): linear.

    Returns:
      the figure written: one axes with the ``n`` points as one line.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must both be [n], got {x.shape} and {y.shape}")
    fig, ax = subplots(figsize=(5.6, 3.6))
    ax.plot(x, y, "o-")
    scale, kwargs = _axis_scale(x, logx, base=2)
    ax.set_xscale(scale, **kwargs)
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel(xlabel + (" (symlog)" if scale == "symlog" else ""))
    ax.set_ylabel(ylabel)
    if ylim is not None:
        lo, hi = ylim
        shown = y[np.isfinite(y)]
        if shown.size and (shown.min() < lo or shown.max() > hi):
            top, bottom = max(hi, shown.max()), min(lo, shown.min())
            pad = 0.05 * (top - bottom or 1.0)
            lo = bottom - pad if shown.min() < lo else lo
            hi = top + pad if shown.max() > hi else hi
        ax.set_ylim(lo, hi)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9, wrap=True)
    save(fig, path)
    return fig


def curve_figure(
    curves: dict[str, np.ndarray],
    path,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool | None = True,
) -> Figure:
    """Several named 1-D curves on one axis, each over its index ``0 … len - 1``.

    Args:
      curves: ``{name: [T] values}`` (lengths may differ).
      path: the PNG to write.
      xlabel, ylabel: the axes' labels.
      title: drawn above the axes.
      logy: the y axis's scale: ``True`` (default) is log, or ``'symlog'`` when a value is
        <= 0 (no point is left out); ``None`` chooses as :func:`rate_curve_figure` does;
        ``False`` is linear. Non-finite values leave gaps, counted in the curve's legend
        entry; a curve of one value is drawn as a marker.

    Returns:
      the figure written: one axes with one line per name.
    """
    fig, ax = subplots(figsize=(6, 3.6))
    values = []
    for name, y in curves.items():
        y = np.asarray(y, float)
        bad = int(np.sum(~np.isfinite(y)))
        label = name + (f" ({bad} non-finite values not drawn)" if bad else "")
        ax.plot(np.arange(len(y)), y, label=label, lw=1.2, marker="o" if len(y) == 1 else None)
        values.append(y)
    scale, kwargs = _axis_scale(np.concatenate(values) if values else [], logy)
    ax.set_yscale(scale, **kwargs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (symlog)" if scale == "symlog" else ""))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    save(fig, path)
    return fig
