"""Statistics against known values."""

import math

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
        "steps_to_converge": np.array([40, -1, -1, 60]),
        "accuracy": np.array([1.0, 0.2, 0.0, 1.0]),
        "final_loss": np.array([0.01, np.nan, np.inf, 0.02]),
    }
    s = stats.summarize(table)
    assert s["rate"] == 0.5 and s["diverged"] == 2
    assert s["median_steps_to_converge"] == 50.0
    assert all(math.isfinite(v) for v in s["ci95"])
    assert s["median_final_loss"] == pytest.approx(0.015)
