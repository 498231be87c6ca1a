"""Statistics against known values."""

import itertools
import math
import sys
from fractions import Fraction

import numpy as np
import pytest

from rnn_jax import stats


@pytest.mark.parametrize(
    "k,n,lo,hi",
    [  # Wilson 95% intervals from Brown, Cai & DasGupta (2001) / standard tables
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
        (378, 1000, 0.3485, 0.4085),
    ],
)
def test_wilson_known_values(k, n, lo, hi):
    got = stats.wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError, match="n must be"):
        stats.wilson_interval(0, 0)
    with pytest.raises(ValueError, match="k must be"):
        stats.wilson_interval(11, 10)


def test_newcombe_difference_known_value():
    # Newcombe (1998), Table II example (56/70 vs 48/80): d = 0.2, 95% CI (0.0524, 0.3339).
    r = stats.rate_difference(56, 70, 48, 80)
    assert r["difference"] == pytest.approx(0.2)
    assert r["ci95"] == pytest.approx([0.0524, 0.3339], abs=1e-4)
    assert r["significant"]


def test_summarize_counts_divergence_separately_and_stays_finite():
    table = {
        "converged": np.array([1, 0, 0, 1]),
        "diverged": np.array([0, 1, 1, 0]),
        "first_converged_update": np.array([40, -1, -1, 60]),
        "accuracy": np.array([1.0, 0.2, 0.0, 1.0]),
        "final_loss": np.array([0.01, np.nan, np.inf, 0.02]),
    }
    s = stats.summarize(table)
    assert s["rate"] == 0.5 and s["diverged"] == 2
    assert s["median_steps_to_converge"] == 50.0
    assert all(math.isfinite(v) for v in s["ci95"])
    assert s["median_final_loss"] == pytest.approx(0.015)


# ------------------------------------------------------------------ paired differences


def _outcomes_from_counts(both, only_a, only_b, neither):
    a = [1] * both + [1] * only_a + [0] * only_b + [0] * neither
    b = [1] * both + [0] * only_a + [1] * only_b + [0] * neither
    return np.array(a, bool), np.array(b, bool)


def _newcombe_paired_direct(both, only_a, only_b, neither, z=stats.Z95):
    """Newcombe (1998) method 10 written from the paper's notation (e, f, g, h), with its
    own Wilson limits: a second, independent transcription."""
    e, f, g, h = both, only_a, only_b, neither
    n = e + f + g + h

    def wilson(x):
        p = x / n
        root = z * np.sqrt(z * z + 4 * n * p * (1 - p))
        return (2 * n * p + z * z - root) / (2 * (n + z * z)), (2 * n * p + z * z + root) / (
            2 * (n + z * z)
        )

    p1, p2 = (e + f) / n, (e + g) / n
    (l1, u1), (l2, u2) = wilson(e + f), wilson(e + g)
    margins = (e + f) * (g + h) * (e + g) * (f + h)
    big_a = e * h - f * g
    if margins == 0:
        phi = 0.0
    elif big_a > n / 2:
        phi = (big_a - n / 2) / np.sqrt(margins)
    elif big_a >= 0:
        phi = 0.0
    else:
        phi = big_a / np.sqrt(margins)
    d1, e1 = p1 - l1, u2 - p2
    d2, e2 = p2 - l2, u1 - p1
    delta = np.sqrt(d1 * d1 - 2 * phi * d1 * e1 + e1 * e1)
    eps = np.sqrt(d2 * d2 - 2 * phi * d2 * e2 + e2 * e2)
    return p1 - p2 - delta, p1 - p2 + eps


def _mcnemar_fraction(only_a, only_b):
    """The exact McNemar p-value with integers only."""
    from fractions import Fraction
    from math import comb

    m, k = only_a + only_b, min(only_a, only_b)
    if m == 0:
        return 1.0
    tail = Fraction(sum(comb(m, j) for j in range(k + 1)), 2**m)
    return float(min(Fraction(1), 2 * tail))


def test_paired_difference_matches_the_published_worked_example():
    # Cavo et al. (2012) as worked in Fagerland, Lydersen & Laake (2017), ch. 8: Newcombe
    # square-and-add -0.0621 (95% CI -0.1186 to -0.0046), exact conditional McNemar P = 0.052479.
    r = stats.paired_difference(*_outcomes_from_counts(59, 6, 16, 80))
    assert (r["both"], r["only_a"], r["only_b"], r["neither"], r["n"]) == (59, 6, 16, 80, 161)
    np.testing.assert_allclose(r["difference"], -0.0621, atol=5e-5)
    np.testing.assert_allclose(r["ci95"], [-0.1186, -0.0046], atol=5e-5)
    np.testing.assert_allclose(r["p_value"], 0.052479, atol=5e-7)


@pytest.mark.parametrize(
    "counts",
    [(59, 6, 16, 80), (10, 23, 8, 23), (0, 5, 7, 0), (3, 0, 0, 9), (1, 0, 0, 0), (0, 1, 0, 0),
     (40, 1, 2, 1), (500, 120, 80, 300), (0, 0, 0, 4), (2, 9, 0, 1)],
)  # fmt: skip
def test_paired_difference_equals_a_direct_computation(counts):
    r = stats.paired_difference(*_outcomes_from_counts(*counts))
    lo, hi = _newcombe_paired_direct(*counts)
    np.testing.assert_allclose(r["ci95"], [max(-1, lo), min(1, hi)], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r["p_value"], _mcnemar_fraction(counts[1], counts[2]), rtol=1e-10)
    assert r["ci95"][0] <= r["difference"] <= r["ci95"][1]


def test_paired_difference_edge_cases():
    # no discordant seeds: difference 0, p = 1, an interval around 0
    r = stats.paired_difference(*_outcomes_from_counts(30, 0, 0, 10))
    assert r["difference"] == 0 and r["p_value"] == 1.0 and r["ci95"][0] < 0 < r["ci95"][1]
    # all discordant, one way: the largest difference and a tiny p-value
    r = stats.paired_difference(*_outcomes_from_counts(0, 12, 0, 0))
    assert r["difference"] == 1.0 and r["ci95"][1] == 1.0
    assert r["p_value"] == pytest.approx(2 * 0.5**12, rel=1e-12)
    # n = 1: defined, wide, not significant
    r = stats.paired_difference([True], [False])
    assert r["difference"] == 1.0 and r["p_value"] == 1.0 and r["ci95"][0] < 0
    for a, b, match in [([], [], "non-empty"), ([1, 0], [1], "same seeds"),
                        ([2, 0], [1, 0], "booleans"), ([[1]], [[1]], "1-D")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            stats.paired_difference(a, b)


def test_pairing_narrows_the_interval_when_outcomes_are_correlated():
    """Shared seeds make outcomes positively correlated; the paired interval uses that."""
    a, b = _outcomes_from_counts(25, 14, 3, 22)  # phi ~ 0.5
    paired = stats.paired_difference(a, b)
    unpaired = stats.rate_difference(int(a.sum()), a.size, int(b.sum()), b.size)
    assert paired["difference"] == pytest.approx(unpaired["difference"])
    width = lambda r: r["ci95"][1] - r["ci95"][0]  # noqa: E731
    assert width(paired) < 0.8 * width(unpaired)


def test_mcnemar_exact_large_counts_stay_accurate():
    # log-space tails against integer arithmetic, where float comb would overflow
    for only_a, only_b in [(600, 540), (1500, 1620), (3, 2000)]:
        np.testing.assert_allclose(
            stats.mcnemar_exact(only_a, only_b), _mcnemar_fraction(only_a, only_b), rtol=1e-9
        )


def test_holm_matches_its_definition():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 9):
        p = rng.uniform(0, 0.2, m)
        adjusted = stats.holm(p)
        order = np.argsort(p)
        expected = np.empty(m)
        for rank, i in enumerate(order):
            expected[i] = min(1.0, max((m - j) * p[order[j]] for j in range(rank + 1)))
        np.testing.assert_allclose(adjusted, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="p_values"):
        stats.holm([0.5, 1.5])


def _holm_exact(p_values, binary: bool = False) -> list[float]:
    """Holm's adjustment in exact rational arithmetic, each p-value taken as the decimal its
    repr names (or, with ``binary``, as the double's own value): min(1, max_{j <= i}
    (m - j + 1) p_(j)), rounded once to a double at the end."""
    exact = [Fraction(float(v)) if binary else Fraction(repr(float(v))) for v in p_values]
    m = len(exact)
    ranked = sorted(range(m), key=lambda i: exact[i])
    out = [0.0] * m
    for rank, i in enumerate(ranked):
        top = max((m - j) * exact[ranked[j]] for j in range(rank + 1))
        out[i] = float(min(Fraction(1), top))
    return out


def test_holm_never_rounds_a_p_value_to_zero():
    # Under the old round(x, 15) these became 0.0.
    assert stats.holm([6.9e-33, 8.3e-10, 3.4e-29]) == [2.07e-32, 8.3e-10, 6.8e-29]
    p = [1e-300, 5e-324, 0.5, 2.5e-308, 1e-300, 0.0]  # subnormals, a tie, a zero
    adjusted = stats.holm(p)
    assert adjusted == _holm_exact(p)
    assert all(a > 0 for a, v in zip(adjusted, p) if v > 0)
    assert adjusted[1] == 5 * 5e-324  # the smallest positive double, times m - 1 = 5
    assert adjusted[5] == 0.0
    assert stats.holm([5e-324]) == [5e-324]


def test_holm_is_exact_keeps_order_and_stays_in_p_1():
    rng = np.random.default_rng(1)
    for m, lowest in itertools.product((1, 2, 3, 7, 20), (-323, -307)):
        for _ in range(20):
            p = list(10.0 ** rng.uniform(lowest, 0, m))  # subnormals, or normal doubles only
            p[rng.integers(m)] = p[rng.integers(m)]  # ties happen
            adjusted = stats.holm(p)
            assert adjusted == _holm_exact(p)
            for a, v, b in zip(adjusted, p, _holm_exact(p, binary=True)):
                assert v <= a <= 1.0
                if min(p) >= sys.float_info.min:  # normal doubles: within an ulp of binary
                    assert abs(a - b) <= math.ulp(b)
            perm = rng.permutation(m)
            assert stats.holm([p[i] for i in perm]) == [adjusted[i] for i in perm]
    assert stats.holm([]) == []


def test_compare_to_baseline_keeps_tiny_holm_p_values():
    n = 400
    base = np.zeros(n, bool)
    good = np.ones(n, bool)
    half = np.arange(n) % 2 == 0
    rows = stats.compare_to_baseline({"base": base, "good": good, "half": half}, "base")
    assert list(rows) == ["good", "half"]
    for r in rows.values():
        assert 0 < r["p_value"] <= r["p_holm"] <= 1
        assert stats.format_p(r["p_holm"]) == "<1e-4"
    assert rows["good"]["p_value"] == pytest.approx(2.0**-399, rel=1e-9)  # only_a = 400
    assert rows["good"]["p_holm"] == _holm_exact([rows[k]["p_value"] for k in rows])[0]


@pytest.mark.parametrize("call,match", [
    (lambda: stats.wilson_interval(3, 10, z=float("nan")), "z must be a finite number > 0"),
    (lambda: stats.wilson_interval(3, 10, z=-1.96), "z must be a finite number > 0"),
    (lambda: stats.wilson_interval(2.5, 10), "k must be a whole number"),
    (lambda: stats.paired_difference([1, 0], [0, 1], z=0.0), "z must be a finite number > 0"),
])  # fmt: skip
def test_intervals_refuse_a_meaningless_z_or_count(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
