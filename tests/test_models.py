"""The seed networks: forward and gradients against the literal NumPy seeds."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnn_jax as rj
from rnn_jax import datasets, models, reference

KEY = jax.random.key(0)
XS = jnp.ones((4, 5, 2), jnp.float64)

BACKWARDS = ("autodiff", "bptt")


def _numpy_params(p):
    return {k: np.asarray(getattr(p, k)) for k in reference.PARAM_ORDER}


def _random_adder(key, hidden=3):
    p = models.adder_init(key, hidden, jnp.float64)
    keys = jax.random.split(jax.random.key(11), len(p))
    return models.AdderParams(
        *[a + 0.3 * jax.random.normal(k, a.shape, a.dtype) for a, k in zip(p, keys)]
    )


def test_adder_forward_and_cost_match_seed(key):
    p = _random_adder(key)
    xs, ts = datasets.binary_addition_data(jax.random.key(1), 50, dtype=jnp.float64)
    logits = models.adder_apply(p, xs)
    _, _, Z, Y = reference.seed002_forward(_numpy_params(p), np.asarray(xs)[..., :])
    chex.assert_trees_all_close(logits, Z[..., 0], rtol=1e-12)
    chex.assert_trees_all_close(
        models.adder_loss(p, xs, ts),
        reference.seed002_cost(Y, np.asarray(ts)[..., None]),
        rtol=1e-10,
    )


@pytest.mark.parametrize("backward", BACKWARDS)
def test_adder_gradients_match_seed_backward(backward, key):
    p = _random_adder(key, hidden=4)
    xs, ts = datasets.binary_addition_data(jax.random.key(2), 40, dtype=jnp.float64)
    g = jax.grad(models.adder_loss)(p, xs, ts, backward=backward)
    want = reference.seed002_grads(_numpy_params(p), np.asarray(xs), np.asarray(ts)[..., None])
    for name in reference.PARAM_ORDER:
        chex.assert_trees_all_close(getattr(g, name), want[name], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("backward", BACKWARDS)
def test_adder_tfb_layout_matches_seed(backward, key):
    """What the sweeps train on: layout="TFB", (T, 2, B) inputs, (T, B) logits and targets."""
    p = _random_adder(key)
    xs, ts = datasets.binary_addition_data(jax.random.key(3), 30, dtype=jnp.float64)
    xs_fm, ts_tm = jnp.transpose(xs, (1, 2, 0)), ts.T
    logits = models.adder_apply(p, xs_fm, backward=backward, layout="TFB")
    chex.assert_shape(logits, ts_tm.shape)
    _, _, Z, _ = reference.seed002_forward(_numpy_params(p), np.asarray(xs))
    chex.assert_trees_all_close(logits, Z[..., 0].T, rtol=1e-12)
    g = jax.grad(models.adder_loss)(p, xs_fm, ts_tm, backward=backward, layout="TFB")
    want = reference.seed002_grads(_numpy_params(p), np.asarray(xs), np.asarray(ts)[..., None])
    for name in reference.PARAM_ORDER:
        chex.assert_trees_all_close(getattr(g, name), want[name], rtol=1e-10, atol=1e-14)


def test_adder_gradient_check_like_seed(key):
    """Seed 002's numerical gradient check, on our hand-BPTT gradient."""
    p = _random_adder(key)
    xs, ts = datasets.binary_addition_data(jax.random.key(3), 20, dtype=jnp.float64)
    f = jax.jit(lambda q: models.adder_loss(q, xs, ts))
    g = jax.grad(models.adder_loss)(p, xs, ts, backward="bptt")
    assert rj.check_grad(f, p, g, eps=1e-5, tol=1e-6) <= 1e-6


def test_check_grad_catches_a_wrong_gradient(key):
    p = _random_adder(key)
    xs, ts = datasets.binary_addition_data(jax.random.key(3), 20, dtype=jnp.float64)
    f = jax.jit(lambda q: models.adder_loss(q, xs, ts))
    g = jax.grad(f)(p)
    bad = g._replace(w_rec=g.w_rec.T)  # the seed-001 kind of mistake
    with pytest.raises(AssertionError, match="gradient check failed"):
        rj.check_grad(f, p, bad, eps=1e-5)


def test_counter_is_the_seed000_recurrence():
    p = models.counter_init(0.7, 1.1, jnp.float64)
    S = reference.seed000_forward_states(datasets.SEED000_X, 0.7, 1.1)
    chex.assert_trees_all_close(models.counter_apply(p, datasets.SEED000_X), S[:, -1], rtol=1e-12)
    g = jax.grad(models.counter_loss)(p, datasets.SEED000_X, datasets.SEED000_T)
    grad_out = 2.0 * (S[:, -1] - datasets.SEED000_T)
    (gx, gr), _ = reference.seed000_backward_gradient(datasets.SEED000_X, S, grad_out, 1.1)
    chex.assert_trees_all_close((g.w_x[0, 0], g.w_rec[0, 0]), (gx, gr), rtol=1e-12)


@pytest.mark.parametrize("scheme", ["glorot", "normal"])
def test_tagger_shapes_and_paths_agree(scheme, key):
    p = models.tagger_init(key, 3, 7, scheme=scheme, dtype=jnp.float64)
    tokens, targets = datasets.next_number_data(jax.random.key(1), 4, 10)
    logits = models.tagger_apply(p, tokens)
    chex.assert_shape(logits, (4, 10, 3))
    g1 = jax.grad(models.tagger_loss)(p, tokens, targets)
    g2 = jax.grad(models.tagger_loss)(p, tokens, targets, backward="bptt")
    chex.assert_trees_all_close(g1, g2, rtol=1e-10, atol=1e-13)


def test_unknown_backward_layout_and_scheme(key):
    p = models.adder_init(key)
    with pytest.raises(ValueError, match="backward"):
        models.adder_apply(p, jnp.ones((2, 7, 2)), backward="numeric")
    with pytest.raises(ValueError, match="layout"):
        models.adder_apply(p, jnp.ones((2, 7, 2)), layout="BFT")
    with pytest.raises(ValueError, match="scheme"):
        models.tagger_init(key, scheme="he")


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_adder_tree_accuracy_equals_all_pairs_accuracy(dtype):
    """The prefix-tree evaluation the sweeps use == running every pair (same arithmetic)."""
    bits = 3
    xs, ts = datasets.all_addition_pairs(bits, dtype)
    tree = datasets.addition_prefix_tree(bits, dtype)
    accs = []
    for seed in range(12):
        p = models.adder_init(jax.random.key(seed), 4, dtype)
        keys = jax.random.split(jax.random.key(100 + seed), len(p))
        p = models.AdderParams(
            *[a + 1.5 * jax.random.normal(k, a.shape, dtype) for a, k in zip(p, keys)]
        )
        full = jnp.mean(jnp.all((models.adder_apply(p, xs) > 0) == (ts > 0.5), axis=-1))
        tree_acc = models.adder_tree_accuracy(p, tree)
        assert tree_acc.dtype == dtype
        assert float(tree_acc) == float(full)
        accs.append(float(full))
    assert len(set(accs)) > 3  # the random nets are right on different numbers of pairs


# (what, call, exception, the message must contain)
BAD_INPUTS = [
    ("vocab 1", lambda: models.tagger_init(KEY, vocab=1), ValueError, "vocab"),
    ("counter rank", lambda: models.counter_apply(models.counter_init(), XS), ValueError, "xs"),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
