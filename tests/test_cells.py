"""Cells: initialisation, and each step against the equations written out independently."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnn_jax as rj
from tests.helpers import random_carry, random_params

SIZES = [(1, 1), (2, 3), (5, 4)]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _reference_step(name, p, carry, x):
    """The documented equations in plain NumPy, gate by gate (PyTorch's nn.LSTM / nn.GRU)."""
    p = jax.tree.map(np.asarray, p)
    x = np.asarray(x)
    if name == "linear":
        h = x @ p.w_x + np.asarray(carry) @ p.w_rec
        return h, h
    if name == "tanh":
        h = np.tanh(x @ p.w_x + np.asarray(carry) @ p.w_rec + p.b)
        return h, h
    if name == "lstm":
        h, c = (np.asarray(a) for a in carry)
        H = h.shape[-1]
        blk = lambda w, k: w[:, k * H : (k + 1) * H]  # noqa: E731
        bb = lambda k: p.b[k * H : (k + 1) * H]  # noqa: E731
        i = _sigmoid(x @ blk(p.w_x, 0) + h @ blk(p.w_rec, 0) + bb(0))
        f = _sigmoid(x @ blk(p.w_x, 1) + h @ blk(p.w_rec, 1) + bb(1))
        g = np.tanh(x @ blk(p.w_x, 2) + h @ blk(p.w_rec, 2) + bb(2))
        o = _sigmoid(x @ blk(p.w_x, 3) + h @ blk(p.w_rec, 3) + bb(3))
        c2 = f * c + i * g
        h2 = o * np.tanh(c2)
        return (h2, c2), h2
    if name == "gru":
        h = np.asarray(carry)
        H = h.shape[-1]
        blk = lambda w, k: w[:, k * H : (k + 1) * H]  # noqa: E731
        bb = lambda k: p.b[k * H : (k + 1) * H]  # noqa: E731
        r = _sigmoid(x @ blk(p.w_x, 0) + bb(0) + h @ blk(p.w_rec, 0))
        z = _sigmoid(x @ blk(p.w_x, 1) + bb(1) + h @ blk(p.w_rec, 1))
        n = np.tanh(x @ blk(p.w_x, 2) + bb(2) + r * (h @ blk(p.w_rec, 2) + p.b_hn))
        h2 = (1 - z) * n + z * h
        return h2, h2
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(rj.cells.CELLS))
@pytest.mark.parametrize("in_size,hidden", SIZES)
def test_init_shapes_dtype_and_glorot_bounds(name, in_size, hidden, key):
    cell = rj.cells.CELLS[name]
    for dtype in (jnp.float32, jnp.float64):
        p = cell.init(key, in_size, hidden, dtype)
        g = cell.gates
        chex.assert_shape(p.w_x, (in_size, g * hidden))
        chex.assert_shape(p.w_rec, (hidden, g * hidden))
        chex.assert_trees_all_equal_dtypes(p, jax.tree.map(lambda a: jnp.zeros((), dtype), p))
        a_x = math.sqrt(6 / (in_size + hidden))
        a_h = math.sqrt(6 / (2 * hidden))
        assert float(jnp.max(jnp.abs(p.w_x))) <= a_x
        assert float(jnp.max(jnp.abs(p.w_rec))) <= a_h
        if name == "linear":
            assert p.b is None  # seed 000's counter has no bias
        for field in p._fields:
            if field.startswith("b") and getattr(p, field) is not None:
                chex.assert_trees_all_equal(getattr(p, field), jnp.zeros_like(getattr(p, field)))


def test_glorot_fills_its_range(key):
    w = rj.cells.glorot_uniform(key, 3, 5, (400, 400), jnp.float64)
    a = math.sqrt(6 / 8)
    assert float(w.max()) > 0.99 * a and float(w.min()) < -0.99 * a


@pytest.mark.parametrize("name", sorted(rj.cells.CELLS))
@pytest.mark.parametrize("in_size,hidden", SIZES)
def test_step_matches_written_out_equations(name, in_size, hidden, key):
    cell = rj.cells.CELLS[name]
    k1, k2, k3 = jax.random.split(key, 3)
    p = random_params(cell, k1, in_size, hidden)
    carry = random_carry(cell, k2, hidden)
    x = jax.random.normal(k3, (in_size,), jnp.float64)
    got_carry, got_h = cell.step(p, carry, x)
    want_carry, want_h = _reference_step(name, p, carry, x)
    chex.assert_trees_all_close(got_h, want_h, rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(
        tuple(jax.tree.leaves(got_carry)),
        tuple(jax.tree.leaves(want_carry)),
        rtol=1e-12,
        atol=1e-12,
    )
    chex.assert_shape(got_h, (hidden,))


def test_unknown_cell_name_is_a_clear_error():
    with pytest.raises(ValueError, match="cell must be one of"):
        rj.cells.CELLS["rnn"]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_init_rejects_bad_sizes(bad, key):
    with pytest.raises((ValueError, TypeError), match="hidden_size"):
        rj.cells.tanh.init(key, 2, bad)


def test_init_refuses_what_is_not_a_key():
    with pytest.raises(TypeError, match="key must be a jax.random key"):
        rj.cells.tanh.init(0, 2, 3)


@pytest.mark.parametrize("name", ["tanh", "lstm", "gru"])
def test_init_schemes(name, key):
    cell, h = rj.cells.CELLS[name], 16
    bound = 1 / np.sqrt(h)
    torch = cell.init(key, 5, h, jnp.float64, scheme="pytorch")
    weights = [np.asarray(torch.w_x), np.asarray(torch.w_rec)]
    for w in weights:  # PyTorch: every weight U(-1/sqrt(H), 1/sqrt(H))
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    b = np.asarray(torch.b)  # the input-side and recurrent-side biases added: +-2/sqrt(H)
    assert np.abs(b).max() <= 2 * bound and np.abs(b).max() > bound
    ortho = cell.init(key, 5, h, jnp.float64, scheme="orthogonal")
    for g in range(cell.gates):
        block = np.asarray(ortho.w_rec)[:, g * h : (g + 1) * h]
        np.testing.assert_allclose(block.T @ block, np.eye(h), atol=1e-6)
    assert not np.any(np.asarray(ortho.b))
    glorot = cell.init(key, 5, h, jnp.float64)
    np.testing.assert_array_equal(glorot.w_x, ortho.w_x)  # same input weights, same keys
    with pytest.raises(ValueError, match="init scheme must be one of"):
        cell.init(key, 5, h, scheme="he")


@pytest.mark.parametrize("scheme", ["glorot", "pytorch", "orthogonal"])
def test_float32_and_float64_runs_of_a_seed_start_from_the_same_network(scheme, key):
    for name in ("tanh", "gru"):
        p32 = rj.cells.CELLS[name].init(key, 3, 4, jnp.float32, scheme=scheme)
        p64 = rj.cells.CELLS[name].init(key, 3, 4, jnp.float64, scheme=scheme)
        for a, b in zip(jax.tree.leaves(p32), jax.tree.leaves(p64)):
            assert b.dtype == jnp.float64
            np.testing.assert_array_equal(np.asarray(a, np.float64), np.asarray(b))
    a32 = rj.models.adder_init(key, 3, jnp.float32, scheme=scheme)
    a64 = rj.models.adder_init(key, 3, jnp.float64, scheme=scheme)
    for a, b in zip(jax.tree.leaves(a32), jax.tree.leaves(a64)):
        np.testing.assert_array_equal(np.asarray(a, np.float64), np.asarray(b))
