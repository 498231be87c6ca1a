"""Statistics of seed sweeps: rates with Wilson intervals, paired and unpaired differences,
exact McNemar tests, Holm's correction, medians."""

from __future__ import annotations

import decimal
import math
import numbers
from collections.abc import Mapping

import numpy as np

Z95 = 1.959963984540054


def _check_count(name: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be a whole number of seeds, got {v!r}")


def _check_z(z) -> None:
    if isinstance(z, bool) or not isinstance(z, numbers.Real) or not (0 < z < math.inf):
        raise ValueError(f"z must be a finite number > 0 (1.96 for 95%), got {z!r}")


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at ``k = 0`` or
    ``k = n`` (Wilson 1927; Brown, Cai & DasGupta 2001).
    """
    _check_count("n", n)
    _check_count("k", k)
    _check_z(z)
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


def paired_difference(a, b, z: float = Z95) -> dict:
    """The difference of two success rates measured on the **same** seeds.

    Seed *i* gets the same data and initial network whatever the optimizer, so two sweeps over
    the same seeds are paired: with ``a`` and ``b`` boolean outcomes of shape ``[n]``,

    ============  =========  =========
    ..            b succeeds  b fails
    ============  =========  =========
    a succeeds    ``both``    ``only_a``
    a fails       ``only_b``  ``neither``
    ============  =========  =========

    the difference is ``d = (only_a - only_b) / n``. Its interval is Newcombe's square-and-add
    interval for paired proportions (Newcombe 1998, *Statistics in Medicine* 17:2635, method
    10): with Wilson intervals ``[l1, u1]`` for ``p1 = (both + only_a) / n`` and ``[l2, u2]``
    for ``p2 = (both + only_b) / n``,

    .. math::
        d - \\sqrt{(p_1 - l_1)^2 - 2\\phi (p_1 - l_1)(u_2 - p_2) + (u_2 - p_2)^2},\\quad
        d + \\sqrt{(p_2 - l_2)^2 - 2\\phi (p_2 - l_2)(u_1 - p_1) + (u_1 - p_1)^2}

    where ``φ`` is the correlation of the two outcomes, ``(both·neither − only_a·only_b)`` over
    the square root of the product of the four margins, with Newcombe's correction (the
    numerator ``A`` becomes ``A − n/2`` when ``A > n/2`` and 0 when ``0 ≤ A ≤ n/2``; ``φ = 0``
    when a margin is 0). The p-value is the exact two-sided McNemar test: a binomial test of
    ``only_a`` against ``Binomial(only_a + only_b, 1/2)``, ``min(1, 2 P(X ≤ min(only_a,
    only_b)))`` (1 when there are no discordant seeds).

    Positively correlated outcomes (φ > 0), as seeds sharing data and initial networks give,
    make this interval narrower than :func:`rate_difference`'s, which assumes independent
    samples.

    Args:
      a, b: boolean (or 0/1) outcomes, shape ``[n]``, ``n ≥ 1``, same seeds in the same order.
      z: the normal quantile (95% by default).

    Returns:
      ``{"difference", "ci95": [lo, hi], "p_value", "significant", "n", "both", "only_a",
      "only_b", "neither"}``.

    Example (Cavo et al. 2012, as worked in Fagerland, Lydersen & Laake 2017, ch. 8):

    >>> a = [1] * 59 + [1] * 6 + [0] * 16 + [0] * 80
    >>> b = [1] * 59 + [0] * 6 + [1] * 16 + [0] * 80
    >>> r = paired_difference(a, b)
    >>> round(r["difference"], 4), [round(x, 4) for x in r["ci95"]], round(r["p_value"], 6)
    (-0.0621, [-0.1186, -0.0046], 0.052479)
    """
    _check_z(z)
    a, b = _outcomes(a, "a"), _outcomes(b, "b")
    if a.shape != b.shape:
        raise ValueError(
            f"paired outcomes must cover the same seeds: a has {a.size} and b has {b.size}"
        )
    n = int(a.size)
    both, only_a = int(np.sum(a & b)), int(np.sum(a & ~b))
    only_b, neither = int(np.sum(~a & b)), int(np.sum(~a & ~b))
    k1, k2 = both + only_a, both + only_b
    p1, p2 = k1 / n, k2 / n
    l1, u1 = wilson_interval(k1, n, z)
    l2, u2 = wilson_interval(k2, n, z)
    margins = k1 * (n - k1) * k2 * (n - k2)
    phi = 0.0
    if margins > 0:
        cross = both * neither - only_a * only_b
        corrected = cross - n / 2 if cross > n / 2 else (0.0 if cross >= 0 else cross)
        phi = corrected / math.sqrt(margins)
    d = p1 - p2
    lo = d - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = d + math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    p = mcnemar_exact(only_a, only_b)
    return {
        "difference": d,
        "ci95": [max(-1.0, lo), min(1.0, hi)],
        "p_value": p,
        "significant": not (lo <= 0.0 <= hi),
        "n": n,
        "both": both,
        "only_a": only_a,
        "only_b": only_b,
        "neither": neither,
    }


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """The exact two-sided McNemar p-value for ``only_a`` and ``only_b`` discordant pairs:
    ``min(1, 2 P(X ≤ min(only_a, only_b)))`` with ``X ~ Binomial(only_a + only_b, 1/2)``;
    1 when there is no discordant pair. Computed in log space (exact to ~1e-12 for any n).

    >>> round(mcnemar_exact(23, 8), 4)
    0.0107
    """
    if only_a < 0 or only_b < 0:
        raise ValueError(f"counts must be >= 0, got {only_a} and {only_b}")
    m, k = only_a + only_b, min(only_a, only_b)
    if m == 0 or only_a == only_b:
        return 1.0
    ks = np.arange(k + 1)
    log_pmf = np.array(
        [math.lgamma(m + 1) - math.lgamma(j + 1) - math.lgamma(m - j + 1) for j in ks]
    ) - m * math.log(2.0)
    top = log_pmf.max()
    tail = math.exp(top) * float(np.sum(np.exp(log_pmf - top)))
    return min(1.0, 2.0 * tail)


def format_p(p: float) -> str:
    """A p-value for a table: two significant digits, ``"<1e-4"`` below 1e-4.

    >>> format_p(0.05248), format_p(2e-9)
    ('0.052', '<1e-4')
    """
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def holm(p_values) -> list[float]:
    """Holm's step-down adjustment of ``m`` p-values (family-wise error rate).

    With ``p_(1) ≤ … ≤ p_(m)`` the sorted p-values, the ``i``-th smallest becomes

    .. math::
        \\tilde p_{(i)} = \\min\\bigl(1, \\max_{j \\le i} (m - j + 1)\\, p_{(j)}\\bigr),

    which is never below its raw ``p_(i)``; reject where the adjusted value is at most the
    level. Order is kept. Nothing is rounded: a tiny p-value (down to the smallest subnormal,
    ``5e-324``) stays a positive number.

    Each product is computed exactly on the decimal the p-value's shortest ``repr`` names and
    rounded once to the nearest double, so ``3 × 0.01`` gives ``0.03``, not the
    ``0.030000000000000002`` of binary floating-point multiplication (the two differ by at
    most one unit in the last place, a few more for subnormal values below 2.2e-308).

    Args:
      p_values: ``m ≥ 0`` numbers in ``[0, 1]``, shape ``[m]``.

    Returns:
      the ``m`` adjusted p-values, in ``[p, 1]`` each, in the order given.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    >>> holm([6.9e-33, 8.3e-10, 3.4e-29])
    [2.07e-32, 8.3e-10, 6.8e-29]
    """
    p = np.asarray(p_values, float)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p_values must be a list of numbers in [0, 1], got {p_values!r}")
    m = p.size
    order = np.argsort(p, kind="stable")
    out = [0.0] * m
    running = 0.0
    with decimal.localcontext() as ctx:
        ctx.prec = 60  # a repr has at most 17 significant digits: products of m < 1e40 are exact
        for rank, i in enumerate(order):
            raw = float(p[i]) + 0.0  # no -0.0
            scaled = float(decimal.Decimal(repr(raw)) * (m - rank))
            running = max(running, scaled)
            out[i] = min(1.0, max(raw, running))
    return out


def compare_to_baseline(outcomes: Mapping[str, object], baseline: str) -> dict[str, dict]:
    """Each sweep's outcomes against ``baseline``'s on the same seeds: :func:`paired_difference`
    plus ``p_holm``, the McNemar p-values adjusted by :func:`holm` over the comparisons made.

    Args:
      outcomes: ``{name: converged [n]}``, every array over the same seeds in the same order.
      baseline: the name the others are compared with.

    Returns:
      ``{name: paired_difference(outcomes[name], outcomes[baseline]) | {"p_holm": ...}}`` for
      every name but the baseline, in order.
    """
    if baseline not in outcomes:
        raise ValueError(f"baseline {baseline!r} is not one of {list(outcomes)}")
    others = [k for k in outcomes if k != baseline]
    rows = {k: paired_difference(outcomes[k], outcomes[baseline]) for k in others}
    adjusted = holm([rows[k]["p_value"] for k in others]) if others else []
    for k, p in zip(others, adjusted):
        rows[k]["p_holm"] = p
    return rows


def _outcomes(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of outcomes, got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must hold booleans or 0/1, got other values")
        arr = arr.astype(bool)
    return arr


def summarize(table: Mapping[str, np.ndarray]) -> dict:
    """Convergence statistics of a per-seed table (columns as in :class:`rnn_jax.Outcome`).

    Diverged seeds count as not converged; they are also counted on their own, as are seeds
    that met the criterion at some evaluation but not at the end (``lost_convergence``) and
    seeds whose task reported an invalid accuracy (``bad_accuracy``); no statistic is computed
    from a non-finite number.
    """
    converged = np.asarray(table["converged"], bool)
    diverged = np.asarray(table["diverged"], bool)
    n = int(converged.size)
    if n == 0:
        raise ValueError("cannot summarize an empty sweep")
    k = int(converged.sum())
    first = np.asarray(table["first_converged_update"])
    steps = first[converged]
    accuracy = np.asarray(table["accuracy"], float)
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
        "lost_convergence": int(np.sum((first >= 0) & ~converged & ~diverged)),
        "bad_accuracy": int(np.sum(np.asarray(table.get("bad_accuracy", 0 * first)))),
        "mean_accuracy": float(np.mean(accuracy[np.isfinite(accuracy)]))
        if np.isfinite(accuracy).any()
        else None,
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
