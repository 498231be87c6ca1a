"""unroll: against a Python loop of cell.step, masks, lengths, reverse, layouts, readout,
shape errors, traces; both backward paths give the same forward values."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnn_jax as rj
from tests.helpers import prefix_mask, random_carry, random_params

KEY = jax.random.key(0)
P = rj.cells.tanh.init(KEY, 2, 3, jnp.float64)
XS = jnp.ones((4, 5, 2), jnp.float64)

B, T, F, H = 3, 5, 2, 4
BACKWARDS = ("autodiff", "bptt")


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


def _zeros(name, batch):
    """A zero carry written out by hand (not taken from the cell)."""
    z = jnp.zeros((batch, H), jnp.float64)
    return (z, z) if name == "lstm" else z


@pytest.fixture(params=sorted(rj.cells.CELLS))
def setup(request, key):
    cell = rj.cells.CELLS[request.param]
    k1, k2, k3 = jax.random.split(key, 3)
    p = random_params(cell, k1, F, H)
    xs = jax.random.normal(k2, (B, T, F), jnp.float64)
    carry0 = random_carry(cell, k3, H, batch=B)
    return cell, p, xs, carry0


@pytest.mark.parametrize("scan_unroll", [1, 8], ids=["rolled", "unrolled"])
@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("jit", [False, True])
def test_matches_python_loop(setup, jit, backward, scan_unroll):
    cell, p, xs, carry0 = setup

    def f(p, xs, carry0):
        return rj.unroll(cell, p, xs, carry0, backward=backward, scan_unroll=scan_unroll)

    hs, carry = (jax.jit(f) if jit else f)(p, xs, carry0)
    ref_hs, ref_carry = _loop(cell, p, xs, carry0)
    chex.assert_shape(hs, (B, T, H))
    chex.assert_trees_all_close(hs, ref_hs, rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(carry, ref_carry, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backward", BACKWARDS)
def test_reverse_equals_flipped_inputs(setup, backward):
    cell, p, xs, carry0 = setup
    hs, carry = rj.unroll(cell, p, xs, carry0, reverse=True, backward=backward)
    hs_f, carry_f = _loop(cell, p, xs[:, ::-1], carry0)
    chex.assert_trees_all_close(hs, hs_f[:, ::-1], rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(carry, carry_f, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backward", BACKWARDS)
def test_mask_matches_truncated_sequences(setup, backward):
    """Lengths 5, 2 and 0: a zero-length sequence keeps its initial carry and outputs zeros."""
    cell, p, xs, carry0 = setup
    lengths = np.array([5, 2, 0])
    hs, carry = rj.unroll(cell, p, xs, carry0, lengths=lengths, backward=backward)
    hs_m, carry_m = rj.unroll(cell, p, xs, carry0, mask=prefix_mask(lengths, T), backward=backward)
    chex.assert_trees_all_close((hs, carry), (hs_m, carry_m))
    for b, n in enumerate(lengths):
        one = jax.tree.map(lambda c: c[b : b + 1], carry0)
        ref_hs, ref_carry = _loop(cell, p, xs[b : b + 1, :n], one) if n else (None, one)
        if n:
            chex.assert_trees_all_close(hs[b, :n], ref_hs[0], rtol=1e-12, atol=1e-12)
        chex.assert_trees_all_equal(hs[b, n:], jnp.zeros((T - n, H), jnp.float64))
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
    ref_hs, _ = _loop(cell, p, xs, full)
    chex.assert_trees_all_close(hs, ref_hs, rtol=1e-12, atol=1e-12)


def test_default_carry_is_zero(setup):
    cell, p, xs, _ = setup
    ref = _loop(cell, p, xs, _zeros(cell.name, B))
    chex.assert_trees_all_close(rj.unroll(cell, p, xs), ref, rtol=1e-12, atol=1e-12)


def test_integer_inputs_are_cast(key):
    p = rj.models.counter_init(1.0, 1.0, jnp.float64)
    xs = jnp.array([[[1], [0], [1]]], dtype=jnp.int32)
    hs, carry = rj.unroll(rj.cells.linear, p, xs)
    chex.assert_trees_all_equal(carry, jnp.array([[2.0]]))


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
    ("backward", lambda xs, c: dict(backward="numeric"), "backward must be one of"),
    ("layout", lambda xs, c: dict(layout="TBF"), "layout must be one of"),
    ("scan_unroll", lambda xs, c: dict(scan_unroll=0), "scan_unroll"),
]


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("name,make,match", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_name_the_argument(name, make, match, backward, key):
    p = random_params(rj.cells.tanh, key, F, H)
    kwargs = dict(xs=jnp.ones((B, T, F)), carry0=None, backward=backward)
    kwargs.update(make(kwargs["xs"], None))
    with pytest.raises(ValueError, match=match):
        rj.unroll(rj.cells.tanh, p, kwargs.pop("xs"), kwargs.pop("carry0"), **kwargs)


def test_dtype_mismatch_is_a_type_error(key):
    p = random_params(rj.cells.tanh, key, F, H)
    with pytest.raises(TypeError, match="dtype"):
        rj.unroll(rj.cells.tanh, p, jnp.ones((B, T, F), jnp.float32))


def test_lstm_carry_structure_checked(key):
    p = random_params(rj.cells.lstm, key, F, H)
    with pytest.raises(ValueError, match="structure"):
        rj.unroll(rj.cells.lstm, p, jnp.ones((B, T, F)), jnp.zeros((H,)))


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("masked", [False, True])
def test_tfb_layout_equals_btf(setup, masked, backward):
    """layout="TFB" on (T, F, B) data is "BTF" with every layout transposed, mask and carry."""
    cell, p, xs, carry0 = setup
    mask = prefix_mask([5, 2, 1], T) if masked else None
    hs, carry = rj.unroll(cell, p, xs, carry0, mask=mask)
    swap = lambda a: jnp.swapaxes(a, -1, -2)  # noqa: E731
    hs_t, carry_t = rj.unroll(
        cell,
        p,
        jnp.transpose(xs, (1, 2, 0)),
        jax.tree.map(swap, carry0),
        mask=None if mask is None else mask.T,
        layout="TFB",
        backward=backward,
    )
    chex.assert_shape(hs_t, (T, H, B))
    chex.assert_trees_all_close(jnp.transpose(hs_t, (2, 0, 1)), hs, rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(jax.tree.map(swap, carry_t), carry, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("layout", ["BTF", "TFB"])
def test_readout_equals_a_readout_of_the_states(setup, layout, backward):
    cell, p, xs, _ = setup
    carry0 = jax.tree.map(lambda z: z + 0.5, cell.zero_carry(H, jnp.float64))  # (H,): shared
    ref_hs, ref_carry = _loop(
        cell, p, xs, jax.tree.map(lambda c: jnp.broadcast_to(c, (B, H)), carry0)
    )
    w = jnp.arange(1.0, H + 1.0, dtype=jnp.float64)
    want = jnp.einsum("bth,h->bt", ref_hs, w)
    if layout == "BTF":
        ys, carry = rj.unroll(cell, p, xs, carry0, readout=lambda h: h @ w, backward=backward)
        chex.assert_shape(ys, (B, T))
    else:
        ys, carry = rj.unroll(
            cell,
            p,
            jnp.transpose(xs, (1, 2, 0)),
            carry0,
            readout=lambda h: w @ h,
            layout=layout,
            backward=backward,
        )
        chex.assert_shape(ys, (T, B))
        ys, carry = ys.T, jax.tree.map(lambda c: c.T, carry)
    chex.assert_trees_all_close(ys, want, rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(carry, ref_carry, rtol=1e-12, atol=1e-12)


def _scan_unrolls(f, *args):
    """The ``unroll`` of every ``scan`` in ``f``'s jaxpr (Python-unrolled steps have none)."""
    import re

    return sorted({int(u) for u in re.findall(r"unroll=(\d+)", str(jax.make_jaxpr(f)(*args)))})


@pytest.mark.parametrize("backward", BACKWARDS)
def test_default_unroll_rolls_only_a_gated_cells_gradient(setup, backward):
    """``scan_unroll=None``: the forward alone is unrolled by 8 (its scan, T = 12 > 8, has
    unroll=8); a gradient's scans are rolled (1) for LSTM and GRU, unrolled by 8 for the
    others; values and gradients (reverse and forward mode, a readout closing over a
    differentiated weight, a mask) equal those of an explicit scan_unroll."""
    cell, p, _, carry0 = setup
    xs = jax.random.normal(jax.random.key(1), (B, 12, F), jnp.float64)
    mask = prefix_mask([12, 5, 0], 12)
    w = jnp.arange(1.0, H + 1.0, dtype=jnp.float64)

    def loss(p, w, xs, scan_unroll=None):
        ys, carry = rj.unroll(
            cell,
            p,
            xs,
            carry0,
            mask=mask,
            readout=lambda h: jnp.tanh(h @ w),
            backward=backward,
            scan_unroll=scan_unroll,
        )
        return jnp.sum(ys**2) + sum(jnp.sum(c) for c in jax.tree.leaves(carry))

    gated = cell.gates > 1
    assert _scan_unrolls(loss, p, w, xs) == [8]
    assert _scan_unrolls(jax.grad(loss, (0, 1, 2)), p, w, xs) == ([1] if gated else [8])
    # the default equals the explicit choice it stands for (forward 8; gradient 1 or 8), and
    # the other choice to rounding
    other = 8 if gated else 1
    chex.assert_trees_all_close(loss(p, w, xs), loss(p, w, xs, other), rtol=1e-12, atol=1e-12)
    chex.assert_trees_all_close(
        jax.grad(loss, (0, 1, 2))(p, w, xs),
        jax.grad(loss, (0, 1, 2))(p, w, xs, other),
        rtol=1e-10,
        atol=1e-12,
    )
    if backward == "autodiff":  # forward mode (the hand BPTT is a custom_vjp: reverse only)
        tangents = jax.tree.map(jnp.ones_like, (p, w, xs))
        chex.assert_trees_all_close(
            jax.jvp(loss, (p, w, xs), tangents),
            jax.jvp(lambda *a: loss(*a, 1), (p, w, xs), tangents),
            rtol=1e-10,
            atol=1e-12,
        )
    # under vmap and jit too
    got = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, None, 0)))(p, w, xs[None])
    chex.assert_trees_all_close(
        jax.tree.map(lambda a: a[0], got), jax.grad(loss)(p, w, xs, 1), rtol=1e-10, atol=1e-12
    )


TFB_BAD = [
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


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("what,kwargs,match", TFB_BAD, ids=[c[0] for c in TFB_BAD])
def test_tfb_rejects_batch_major_arguments(what, kwargs, match, backward):
    cell = rj.cells.tanh
    p = cell.init(jax.random.key(0), F, H, jnp.float64)
    args = dict(xs=jnp.ones((T, F, B)), carry0=None, mask=None) | kwargs(jnp.ones((T, F, B)))
    with pytest.raises(ValueError, match=match):
        rj.unroll(
            cell,
            p,
            args["xs"],
            args["carry0"],
            mask=args["mask"],
            layout="TFB",
            backward=backward,
        )


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    b=st.integers(1, 4),
    t=st.integers(1, 6),
    f=st.integers(1, 3),
    h=st.integers(1, 4),
    name=st.sampled_from(sorted(rj.cells.CELLS)),
)
def test_unroll_masks_inert_on_random_shapes(seed, b, t, f, h, name):
    cell = rj.cells.CELLS[name]
    k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
    p = cell.init(k1, f, h, jnp.float64)
    xs = jax.random.normal(k2, (b, t, f), jnp.float64)
    lengths = jax.random.randint(k3, (b,), 0, t + 1)
    mask = np.arange(t)[None, :] < np.asarray(lengths)[:, None]
    noise = 50.0 * jax.random.normal(k4, xs.shape, jnp.float64)
    xs2 = jnp.where(mask[..., None], xs, noise)
    a = rj.unroll(cell, p, xs, lengths=lengths, backward="bptt")
    c = rj.unroll(cell, p, xs2, lengths=lengths, backward="bptt")
    chex.assert_trees_all_close(a, c)
    chex.assert_tree_all_finite(a)


# (what, call, exception, the message must contain)
BAD_INPUTS = [
    ("xs rank 2", lambda: rj.unroll(rj.cells.tanh, P, XS[0]), ValueError, "xs must have rank 3"),
    (
        "xs features",
        lambda: rj.unroll(rj.cells.tanh, P, jnp.ones((4, 5, 3))),
        ValueError,
        "features",
    ),
    (
        "empty sequence",
        lambda: rj.unroll(rj.cells.tanh, P, jnp.ones((4, 0, 2))),
        ValueError,
        "at least one",
    ),
    (
        "mask shape",
        lambda: rj.unroll(rj.cells.tanh, P, XS, mask=jnp.ones((4, 6), bool)),
        ValueError,
        "mask must have shape",
    ),
    (
        "lengths shape",
        lambda: rj.unroll(rj.cells.tanh, P, XS, lengths=jnp.ones(3, jnp.int32)),
        ValueError,
        "lengths must have shape",
    ),
    (
        "float lengths",
        lambda: rj.unroll(rj.cells.tanh, P, XS, lengths=jnp.ones(4)),
        TypeError,
        "lengths must be integers",
    ),
    (
        "carry0 shape",
        lambda: rj.unroll(rj.cells.tanh, P, XS, jnp.ones((5, 3))),
        ValueError,
        "carry0 must have shape",
    ),
    (
        "dtype mismatch",
        lambda: rj.unroll(rj.cells.tanh, P, XS.astype(jnp.float32)),
        TypeError,
        "dtype",
    ),
    (
        "lstm params in the tanh cell",
        lambda: rj.unroll(rj.cells.tanh, rj.cells.lstm.init(KEY, 2, 3, jnp.float64), XS),
        ValueError,
        "params do not belong to the tanh cell",
    ),
    (
        "complex xs",
        lambda: rj.unroll(rj.cells.tanh, P, XS.astype(jnp.complex128)),
        TypeError,
        "xs must be real",
    ),
    (
        "negative lengths",
        lambda: rj.unroll(rj.cells.tanh, P, XS, lengths=jnp.array([1, 2, -1, 3])),
        ValueError,
        "lengths must be in \\[0, 5\\]",
    ),
    (
        "lengths past the end",
        lambda: rj.unroll(rj.cells.tanh, P, XS, lengths=jnp.array([1, 2, 6, 3])),
        ValueError,
        "lengths must be in \\[0, 5\\]",
    ),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
