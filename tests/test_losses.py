"""Losses: against naive formulas, stable at extreme logits, masks honoured."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_jax import losses


def test_mse_matches_formula(key):
    a, b = jax.random.normal(key, (2, 4, 3), jnp.float64)
    chex.assert_trees_all_close(losses.mse(a, b), np.mean((np.asarray(a) - np.asarray(b)) ** 2))
    chex.assert_trees_all_close(
        losses.mse(a, b, reduction="sum"), np.sum((np.asarray(a) - np.asarray(b)) ** 2)
    )


def test_softmax_ce_matches_naive_and_is_stable(key):
    logits = jax.random.normal(key, (4, 5, 3), jnp.float64)
    labels = jnp.arange(20).reshape(4, 5) % 3
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    naive = -np.log(np.take_along_axis(p, np.asarray(labels)[..., None], -1))
    chex.assert_trees_all_close(losses.softmax_cross_entropy(logits, labels), naive.mean())
    big = jnp.array([[1e4, -1e4, 0.0]])
    v = losses.softmax_cross_entropy(big, jnp.array([1]))
    chex.assert_trees_all_close(v, 2e4)
    chex.assert_tree_all_finite(
        jax.grad(lambda z: losses.softmax_cross_entropy(z, jnp.array([1])))(big)
    )


def test_sigmoid_bce_matches_naive_and_is_stable(key):
    z = jax.random.normal(key, (6, 7), jnp.float64) * 3
    t = (jax.random.uniform(jax.random.key(1), (6, 7)) > 0.5).astype(jnp.float64)
    s = 1 / (1 + np.exp(-np.asarray(z)))
    naive = -(t * np.log(s) + (1 - t) * np.log(1 - s))
    chex.assert_trees_all_close(losses.sigmoid_binary_cross_entropy(z, t), naive.mean(), rtol=1e-12)
    # Saturated logits: seed 002 needs log(Y + 1e-99); we are exact and finite.
    extreme = jnp.array([800.0, -800.0, 40.0])
    v = losses.sigmoid_binary_cross_entropy(extreme, jnp.array([0.0, 1.0, 1.0]), reduction="sum")
    chex.assert_trees_all_close(v, 1600.0 + np.log1p(np.exp(-40.0)), rtol=1e-12)
    g = jax.grad(lambda z: losses.sigmoid_binary_cross_entropy(z, jnp.array([0.0, 1.0, 1.0])))(
        extreme
    )
    chex.assert_tree_all_finite(g)
    chex.assert_trees_all_close(
        g, (np.array([1.0, 0.0, 1.0 / (1 + np.exp(-40.0))]) - [0, 1, 1]) / 3
    )


def test_sigmoid_bce_gradient_exact_at_zero_logit():
    """Regression: max(z,0) + log1p(exp(-|z|)) gets d/dz wrong at z = 0 under autodiff."""
    z = jnp.zeros((4,), jnp.float64)
    t = jnp.array([0.0, 1.0, 0.25, 1.0])
    g = jax.grad(lambda zz: losses.sigmoid_binary_cross_entropy(zz, t, reduction="sum"))(z)
    chex.assert_trees_all_close(g, 0.5 - t, rtol=1e-15)


@pytest.mark.parametrize(
    "fn,args",
    [
        (losses.mse, lambda z: (z, jnp.zeros_like(z))),
        (losses.sigmoid_binary_cross_entropy, lambda z: (z, jnp.ones_like(z))),
        (
            losses.softmax_cross_entropy,
            lambda z: (jnp.stack([z, -z], -1), jnp.zeros(z.shape, jnp.int32)),
        ),
    ],
)
def test_mask_excludes_elements_even_nan(fn, args):
    z = jnp.array([[0.3, -1.2, jnp.nan], [2.0, jnp.inf, 0.5]])
    mask = jnp.isfinite(z)
    clean = jnp.where(mask, z, 0.0)
    got = fn(*args(z), mask=mask)
    kept = fn(*args(clean[mask][None]))
    chex.assert_trees_all_close(got, kept)
    g = jax.grad(lambda zz: fn(*args(zz), mask=mask))(clean)
    chex.assert_tree_all_finite(g)
    chex.assert_trees_all_equal(jnp.where(mask, 0.0, g), jnp.zeros_like(g))


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        losses.mse(jnp.ones(3), jnp.ones(3), reduction="max")
    with pytest.raises(ValueError, match="mask must have shape"):
        losses.mse(jnp.ones(3), jnp.ones(3), mask=jnp.ones(4, bool))
    with pytest.raises(ValueError, match="labels must have shape"):
        losses.softmax_cross_entropy(jnp.ones((2, 3)), jnp.zeros((3,), jnp.int32))
    with pytest.raises(TypeError, match="integer"):
        losses.softmax_cross_entropy(jnp.ones((2, 3)), jnp.zeros((2,)))
    with pytest.raises(ValueError, match="targets"):
        losses.sigmoid_binary_cross_entropy(jnp.ones((2, 3)), jnp.ones((3,)))


# (what, call, exception, the message must contain)
BAD_INPUTS = [
    (
        "loss mask",
        lambda: losses.mse(jnp.ones(3), jnp.ones(3), jnp.ones(2, bool)),
        ValueError,
        "mask",
    ),
    (
        "float labels",
        lambda: losses.softmax_cross_entropy(jnp.ones((2, 3)), jnp.ones(2)),
        TypeError,
        "labels",
    ),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
