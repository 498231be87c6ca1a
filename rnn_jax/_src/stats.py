"""Statistics of seed sweeps: rates with Wilson intervals, differences, medians."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at ``k = 0`` or
    ``k = n`` (Wilson 1927; Brown, Cai & DasGupta 2001).
    """
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n] = [0, {n}], got {k}")
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, center - half)
    hi = 1.0 if k == n else min(1.0, center + half)
    return lo, hi


def rate_difference(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> dict:
    """``p1 - p2`` with Newcombe's hybrid score interval (method 10, Newcombe 1998)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {"difference": d, "ci95": [lo, hi], "significant": not (lo <= 0.0 <= hi)}


def summarize(table: Mapping[str, np.ndarray]) -> dict:
    """Convergence statistics of a per-seed table (columns as in :class:`rnn_jax.train.Outcome`).

    Diverged seeds count as not converged; they are also counted on their own, and no
    statistic is computed from a non-finite number.
    """
    converged = np.asarray(table["converged"], bool)
    diverged = np.asarray(table["diverged"], bool)
    n = int(converged.size)
    if n == 0:
        raise ValueError("cannot summarize an empty sweep")
    k = int(converged.sum())
    steps = np.asarray(table["steps_to_converge"])[converged]
    loss = np.asarray(table["final_loss"], float)
    finite = np.isfinite(loss)
    lo, hi = wilson_interval(k, n)
    return {
        "seeds": n,
        "converged": k,
        "rate": k / n,
        "ci95": [lo, hi],
        "diverged": int(diverged.sum()),
        "divergence_rate": float(diverged.mean()),
        "median_steps_to_converge": float(np.median(steps)) if k else None,
        "mean_accuracy": float(np.mean(table["accuracy"])),
        "median_final_loss": float(np.median(loss[finite])) if finite.any() else None,
    }


def table_row(summary: Mapping, **labels) -> dict:
    """One row of a results table: ``labels`` (optimizer, hidden, ...) then the rate columns of
    a :func:`summarize` summary (``median_steps`` is -1 when no seed converged)."""
    lo, hi = summary["ci95"]
    median = summary["median_steps_to_converge"]
    return {
        **labels,
        "seeds": summary["seeds"],
        "converged": summary["converged"],
        "rate": summary["rate"],
        "ci_low": lo,
        "ci_high": hi,
        "diverged": summary["diverged"],
        "median_steps": -1.0 if median is None else median,
    }
