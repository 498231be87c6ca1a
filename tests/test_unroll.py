"""unroll: against a Python loop of cell.step, masks, lengths, reverse, shape errors, traces."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnn_jax as rj
from tests.helpers import prefix_mask, random_carry, random_params

B, T, F, H = 3, 5, 2, 4


def _loop(cell, p, xs, carry0):
    """Reference: one example at a time, step by step, in Python."""
    hs_all, carries = [], []
    for b in range(xs.shape[0]):
        carry = jax.tree.map(lambda c: c[b], carry0)
        hs = []
        for t in range(xs.shape[1]):
            carry, h = cell.step(p, carry, xs[b, t])
            hs.append(h)
        hs_all.append(jnp.stack(hs))
        carries.append(carry)
    return jnp.stack(hs_all), jax.tree.map(lambda *c: jnp.stack(c), *carries)


@pytest.fixture(params=sorted(rj.CELLS))
def setup(request, key):
    cell = rj.get_cell(request.param)
    k1, k2, k3 = jax.random.split(key, 3)
    p = random_params(cell, k1, F, H)
    xs = jax.random.normal(k2, (B, T, F), jnp.float64)
    carry0 = random_carry(cell, k3, H, batch=B)
    return cell, p, xs, carry0


@pytest.mark.parametrize("jit", [False, True])
def test_matches_python_loop(setup, jit):
    cell, p, xs, carry0 = setup
    f = jax.jit(rj.unroll, static_argnums=0) if jit else rj.unroll
    hs, carry = f(cell, p, xs, carry0)
    ref_hs, ref_carry = _loop(cell, p, xs, carry0)
    chex.assert_shape(hs, (B, T, H))
    chex.assert_trees_all_close(hs, ref_hs, rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(carry, ref_carry, rtol=1e-12, atol=1e-12)


def test_reverse_equals_flipped_inputs(setup):
    cell, p, xs, carry0 = setup
    hs, carry = rj.unroll(cell, p, xs, carry0, reverse=True)
    hs_f, carry_f = rj.unroll(cell, p, xs[:, ::-1], carry0)
    chex.assert_trees_all_close(hs, hs_f[:, ::-1], rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(carry, carry_f, rtol=1e-12, atol=1e-12)


def test_mask_matches_truncated_sequences(setup):
    cell, p, xs, carry0 = setup
    lengths = np.array([5, 2, 1])
    hs, carry = rj.unroll(cell, p, xs, carry0, lengths=lengths)
    hs_m, carry_m = rj.unroll(cell, p, xs, carry0, mask=prefix_mask(lengths, T))
    chex.assert_trees_all_close((hs, carry), (hs_m, carry_m))
    for b, n in enumerate(lengths):
        one = jax.tree.map(lambda c: c[b : b + 1], carry0)
        ref_hs, ref_carry = rj.unroll(cell, p, xs[b : b + 1, :n], one)
        chex.assert_trees_all_close(hs[b, :n], ref_hs[0], rtol=1e-12, atol=1e-12)
        chex.assert_trees_all_close(hs[b, n:], jnp.zeros((T - n, H)))
        chex.assert_trees_all_close(
            jax.tree.map(lambda c: c[b], carry),
            jax.tree.map(lambda c: c[0], ref_carry),
            rtol=1e-12,
            atol=1e-12,
        )


def test_shared_carry0_broadcasts(setup):
    cell, p, xs, carry0 = setup
    shared = jax.tree.map(lambda c: c[0], carry0)
    hs, _ = rj.unroll(cell, p, xs, shared)
    full = jax.tree.map(lambda c: jnp.broadcast_to(c, (B, H)), shared)
    hs2, _ = rj.unroll(cell, p, xs, full)
    chex.assert_trees_all_close(hs, hs2)


def test_default_carry_is_zero(setup):
    cell, p, xs, _ = setup
    zeros = jax.tree.map(jnp.zeros_like, cell.zero_carry(H, jnp.float64))
    chex.assert_trees_all_close(rj.unroll(cell, p, xs), rj.unroll(cell, p, xs, zeros))


def test_integer_inputs_are_cast(key):
    p = rj.models.counter_init(1.0, 1.0, jnp.float64)
    xs = jnp.array([[[1], [0], [1]]], dtype=jnp.int32)
    hs, carry = rj.unroll(rj.cells.linear, p, xs)
    chex.assert_trees_all_close(carry, jnp.array([[2.0]]))


def test_no_retrace_on_second_call(setup):
    cell, p, xs, carry0 = setup

    @jax.jit
    @chex.assert_max_traces(n=1)
    def f(p, xs, carry0):
        return rj.unroll(cell, p, xs, carry0)

    f(p, xs, carry0)
    f(jax.tree.map(lambda a: a + 1.0, p), xs * 2.0, carry0)  # same shapes: no new trace
    chex.clear_trace_counter()


BAD = [
    ("xs rank", lambda xs, c: dict(xs=xs[0]), "xs must have rank 3"),
    ("features", lambda xs, c: dict(xs=jnp.ones((B, T, F + 1))), "features"),
    ("empty", lambda xs, c: dict(xs=jnp.ones((B, 0, F))), "at least one"),
    ("mask shape", lambda xs, c: dict(mask=jnp.ones((B, T + 1), bool)), "mask must have shape"),
    ("mask batch", lambda xs, c: dict(mask=jnp.ones((B + 1, T), bool)), "mask must have shape"),
    ("lengths shape", lambda xs, c: dict(lengths=jnp.ones((B + 2,), int)), "lengths must have"),
    ("both", lambda xs, c: dict(mask=jnp.ones((B, T), bool), lengths=jnp.ones(B, int)), "not both"),
    ("carry batch", lambda xs, c: dict(carry0=jnp.ones((B + 1, H))), "carry0 must have shape"),
    ("carry size", lambda xs, c: dict(carry0=jnp.ones((H + 1,))), "carry0 must have shape"),
]


@pytest.mark.parametrize("unroll", [rj.unroll, rj.unroll_bptt])
@pytest.mark.parametrize("name,make,match", BAD, ids=[b[0] for b in BAD])
def test_bad_shapes_name_the_argument(name, make, match, unroll, key):
    p = random_params(rj.cells.tanh, key, F, H)
    xs = jnp.ones((B, T, F))
    kwargs = dict(xs=xs, carry0=None)
    kwargs.update(make(xs, None))
    with pytest.raises(ValueError, match=match):
        unroll(rj.cells.tanh, p, kwargs.pop("xs"), kwargs.pop("carry0"), **kwargs)


def test_dtype_mismatch_is_a_type_error(key):
    p = random_params(rj.cells.tanh, key, F, H)
    with pytest.raises(TypeError, match="dtype"):
        rj.unroll(rj.cells.tanh, p, jnp.ones((B, T, F), jnp.float32))


def test_lstm_carry_structure_checked(key):
    p = random_params(rj.cells.lstm, key, F, H)
    with pytest.raises(ValueError, match="structure"):
        rj.unroll(rj.cells.lstm, p, jnp.ones((B, T, F)), jnp.zeros((H,)))


@pytest.mark.parametrize("masked", [False, True])
def test_feature_major_equals_batch_major(setup, masked):
    """unroll_fm on (T, F, B) data is unroll with every layout transposed, mask and carry too."""
    cell, p, xs, carry0 = setup
    mask = prefix_mask([5, 2, 1], T) if masked else None
    hs, carry = rj.unroll(cell, p, xs, carry0, mask=mask)
    fm = lambda a: jnp.swapaxes(a, -1, -2)  # noqa: E731
    mask_tm = None if mask is None else mask.T
    for unroll_fm in (rj.unroll_fm, rj.unroll_bptt_fm):
        hs_fm, carry_fm = unroll_fm(
            cell, p, jnp.transpose(xs, (1, 2, 0)), jax.tree.map(fm, carry0), mask=mask_tm
        )
        chex.assert_shape(hs_fm, (T, H, B))
        chex.assert_trees_all_close(jnp.transpose(hs_fm, (2, 0, 1)), hs, rtol=1e-12, atol=1e-12)
        chex.assert_trees_all_close(jax.tree.map(fm, carry_fm), carry, rtol=1e-12, atol=1e-12)


def test_feature_major_readout_and_shared_carry(setup):
    cell, p, xs, _ = setup
    xs_fm = jnp.transpose(xs, (1, 2, 0))
    carry0 = jax.tree.map(lambda z: z + 0.5, cell.zero_carry(H, jnp.float64))  # (H,): shared
    hs, carry = rj.unroll_fm(cell, p, xs_fm, carry0)
    w = jnp.arange(1.0, H + 1.0, dtype=jnp.float64)
    ys, carry_r = rj.unroll_fm(cell, p, xs_fm, carry0, readout=lambda h: w @ h)
    chex.assert_shape(ys, (T, B))
    chex.assert_trees_all_close(ys, jnp.einsum("h,thb->tb", w, hs), rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(carry_r, carry)
    ref_hs, _ = rj.unroll(cell, p, xs, carry0)
    chex.assert_trees_all_close(jnp.transpose(hs, (2, 0, 1)), ref_hs, rtol=1e-12, atol=1e-12)


FM_BAD = [
    ("rank", lambda xs: dict(xs=xs[0]), "xs must have rank 3"),
    ("features", lambda xs: dict(xs=jnp.ones((T, F + 1, B))), "middle axis"),
    (
        "batch-major mask",
        lambda xs: dict(mask=jnp.ones((B, T), bool)),
        r"mask must have shape \(time, batch\)",
    ),
    (
        "batch-major carry",
        lambda xs: dict(carry0=jnp.ones((B, H))),
        r"carry0 must have shape .*\(hidden, batch\)",
    ),
]


@pytest.mark.parametrize("what,kwargs,match", FM_BAD, ids=[c[0] for c in FM_BAD])
def test_feature_major_rejects_batch_major_arguments(what, kwargs, match):
    cell = rj.get_cell("tanh")
    p = cell.init(jax.random.key(0), F, H, jnp.float64)
    args = dict(xs=jnp.ones((T, F, B)), carry0=None, mask=None) | kwargs(jnp.ones((T, F, B)))
    for unroll_fm in (rj.unroll_fm, rj.unroll_bptt_fm):
        with pytest.raises(ValueError, match=match):
            unroll_fm(cell, p, args["xs"], args["carry0"], mask=args["mask"])
