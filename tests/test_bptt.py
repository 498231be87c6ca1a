"""Hand-written BPTT == jax.grad through the scan == central differences (float64)."""

import functools

import chex
import jax
import jax.numpy as jnp
import optax
import pytest
from absl.testing import parameterized

import rnn_jax as rj
from tests.helpers import max_rel_err, prefix_mask, random_carry, random_params

# (batch, time, features, hidden)
SHAPES = [(1, 1, 1, 1), (2, 7, 2, 3), (3, 5, 4, 6)]
CELL_NAMES = sorted(rj.cells.CELLS)


def unroll_with(backward, **options):
    """``rj.unroll`` with a fixed gradient path (and other options)."""
    return functools.partial(rj.unroll, backward=backward, **options)


AUTODIFF, HAND = unroll_with("autodiff"), unroll_with("bptt")


def _problem(cell, key, shape, masked, reverse=False):
    b, t, f, h = shape
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    params = random_params(cell, k1, f, h)
    xs = jax.random.normal(k2, (b, t, f), jnp.float64)
    carry0 = random_carry(cell, k3, h)  # shared (H,): a learned initial state
    w_hs = jax.random.normal(k4, (b, t, h), jnp.float64)
    w_carry = random_carry(cell, k5, h, batch=b)
    # Masked: lengths from t down to 0 (the last sequence is empty when b > 1).
    lengths = jnp.arange(b, 0, -1) * t // b - int(b > 1) if masked else None
    mask = None if lengths is None else prefix_mask(jnp.maximum(lengths, 0), t)

    def loss(unroll, params, xs, carry0):
        hs, carry = unroll(cell, params, xs, carry0, mask=mask, reverse=reverse)
        carry_term = sum(
            jnp.sum(w * jnp.tanh(c))
            for w, c in zip(jax.tree.leaves(w_carry), jax.tree.leaves(carry))
        )
        return jnp.sum(w_hs * jnp.sin(hs)) + carry_term

    return params, xs, carry0, mask, loss


@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("seed,shape", list(enumerate(SHAPES)), ids=str)
@pytest.mark.parametrize("name", CELL_NAMES)
def test_hand_bptt_equals_autodiff_and_central_differences(name, seed, shape, masked):
    """Every cell, several shapes and keys, with/without a mask (one sequence of length 0),
    a learned initial carry; the default, unrolled scan."""
    cell = rj.cells.CELLS[name]
    params, xs, carry0, _, loss = _problem(cell, jax.random.key(seed), shape, masked)
    grad = jax.jit(jax.grad(loss, (1, 2, 3)), static_argnums=0)
    g_auto = grad(AUTODIFF, params, xs, carry0)
    g_hand = grad(HAND, params, xs, carry0)
    chex.assert_tree_all_finite(g_hand)
    chex.assert_trees_all_equal_shapes(g_auto, g_hand)
    assert max_rel_err(g_hand, g_auto) <= 1e-10
    # Both against central differences over (params, xs, carry0).
    # eps = 1e-5 balances truncation (eps²) and rounding (1e-16/eps); the floor ignores
    # coordinates whose gradient is below what central differences can resolve.
    num = rj.numerical_grad(jax.jit(lambda a: loss(AUTODIFF, *a)), (params, xs, carry0), 1e-5)
    assert float(rj.relative_error(g_hand, num, floor=1e-6)) <= 1e-6
    assert float(rj.relative_error(g_auto, num, floor=1e-6)) <= 1e-6


@pytest.mark.parametrize("scan_unroll", [1, 8], ids=["rolled", "unrolled"])
@pytest.mark.parametrize("name", CELL_NAMES)
def test_reverse_through_the_custom_vjp(name, scan_unroll):
    """Gradients of a reversed, masked unroll: hand BPTT (custom_vjp) == jax.grad."""
    cell = rj.cells.CELLS[name]
    params, xs, carry0, _, loss = _problem(cell, jax.random.key(4), (3, 6, 2, 4), True, True)
    grad = jax.grad(loss, (1, 2, 3))
    g_auto = grad(unroll_with("autodiff", scan_unroll=scan_unroll), params, xs, carry0)
    g_hand = grad(unroll_with("bptt", scan_unroll=scan_unroll), params, xs, carry0)
    assert max_rel_err(g_hand, g_auto) <= 1e-10
    assert max_rel_err(g_hand, grad(AUTODIFF, params, xs, carry0)) <= 1e-10
    assert float(jnp.max(jnp.abs(g_hand[1]))) > 0.0  # the inputs did get a gradient


@pytest.mark.parametrize("name", CELL_NAMES)
@pytest.mark.parametrize("reverse", [False, True])
def test_explicit_bptt_equals_vjp(name, reverse, key):
    cell = rj.cells.CELLS[name]
    b, t, f, h = 3, 6, 2, 4
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    params = random_params(cell, k1, f, h)
    xs = jax.random.normal(k2, (b, t, f), jnp.float64)
    carry0 = random_carry(cell, k3, h, batch=b)
    mask = prefix_mask(jnp.array([6, 3, 1]), t)
    d_hs = jax.random.normal(k4, (b, t, h), jnp.float64)
    d_carry = random_carry(cell, k5, h, batch=b)

    (hs, carry), grads = rj.bptt(
        cell, params, xs, carry0, d_hs, d_carry, mask=mask, reverse=reverse
    )
    out, vjp = jax.vjp(
        lambda p, x, c: rj.unroll(cell, p, x, c, mask=mask, reverse=reverse), params, xs, carry0
    )
    want = vjp((d_hs, d_carry))
    chex.assert_trees_all_close((hs, carry), out, rtol=1e-12, atol=1e-12)
    assert max_rel_err((grads.params, grads.xs, grads.carry0), want) <= 1e-10


def test_explicit_bptt_sums_a_shared_carry_over_the_batch(key):
    cell = rj.cells.tanh
    params = random_params(cell, key, 2, 3)
    xs = jnp.ones((4, 5, 2))
    carry0 = jnp.full((3,), 0.1)
    d_hs = jnp.ones((4, 5, 3))
    _, grads = rj.bptt(cell, params, xs, carry0, d_hs)
    chex.assert_shape(grads.carry0, (3,))
    want = jax.grad(lambda c: jnp.sum(rj.unroll(cell, params, xs, c)[0]))(carry0)
    chex.assert_trees_all_close(grads.carry0, want, rtol=1e-12)


def test_bptt_rejects_bad_cotangent_shape(key):
    params = random_params(rj.cells.tanh, key, 2, 3)
    with pytest.raises(ValueError, match="d_hs must have shape"):
        rj.bptt(rj.cells.tanh, params, jnp.ones((4, 5, 2)), d_hs=jnp.ones((4, 5, 2)))


@pytest.mark.parametrize("name", CELL_NAMES)
@pytest.mark.parametrize("unroll", [AUTODIFF, HAND], ids=["autodiff", "bptt"])
def test_masked_steps_are_inert(name, unroll, key):
    """Changing what stands in padded steps changes neither the loss nor any gradient."""
    cell = rj.cells.CELLS[name]
    params, xs, carry0, mask, loss = _problem(cell, key, (3, 6, 2, 4), masked=True)
    garbage = jax.random.normal(jax.random.key(7), xs.shape, jnp.float64) * 100.0
    xs2 = jnp.where(mask[..., None], xs, garbage)
    v1, g1 = jax.value_and_grad(loss, (1, 3))(unroll, params, xs, carry0)
    v2, g2 = jax.value_and_grad(loss, (1, 3))(unroll, params, xs2, carry0)
    chex.assert_trees_all_close((v1, g1), (v2, g2), rtol=1e-13, atol=1e-13)
    g_x = jax.grad(loss, 2)(unroll, params, xs, carry0)
    chex.assert_trees_all_equal(jnp.where(mask[..., None], 0.0, g_x), jnp.zeros_like(g_x))


def test_training_through_custom_vjp_equals_autodiff(key):
    """Ten RMSprop-Nesterov steps on the adder: same parameters either way (float64)."""
    xs, ts = rj.datasets.binary_addition_data(key, 64, dtype=jnp.float64)
    params0 = rj.models.adder_init(jax.random.key(3), 3, jnp.float64)
    opt = rj.rmsprop_nesterov()

    def run(backward):
        def step(carry, _):
            p, s = carry
            g = jax.grad(rj.models.adder_loss)(p, xs, ts, backward=backward)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        return jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), length=10)[0][0])(params0)

    p_auto, p_hand = run("autodiff"), run("bptt")
    chex.assert_trees_all_close(p_auto, p_hand, rtol=1e-12, atol=1e-12)
    assert max_rel_err(p_auto, params0) > 1e-3  # it did train


class JitVariantsTest(chex.TestCase):
    """Same gradients with and without jit (chex.variants)."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(*CELL_NAMES)
    def test_grad_same_under_jit(self, name):
        cell = rj.cells.CELLS[name]
        params, xs, carry0, _, loss = _problem(cell, jax.random.key(5), (2, 4, 3, 3), True)
        grad = self.variant(jax.grad(lambda p, x, c: loss(HAND, p, x, c)))
        ref = jax.grad(lambda p, x, c: loss(AUTODIFF, p, x, c))(params, xs, carry0)
        chex.assert_trees_all_close(grad(params, xs, carry0), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", CELL_NAMES)
def test_unrolled_scans_give_the_same_gradients(name):
    """Rolled (scan_unroll=1), partly unrolled (2) and fully unrolled (8) scans, both paths."""
    cell = rj.cells.CELLS[name]
    params, xs, carry0, _, loss = _problem(cell, jax.random.key(9), (3, 5, 2, 4), True)
    grad = jax.grad(loss, (1, 2, 3))
    rolled = grad(unroll_with("bptt", scan_unroll=1), params, xs, carry0)
    for scan_unroll in (2, 8):
        hand = grad(unroll_with("bptt", scan_unroll=scan_unroll), params, xs, carry0)
        auto = grad(unroll_with("autodiff", scan_unroll=scan_unroll), params, xs, carry0)
        assert max_rel_err(hand, rolled) <= 1e-12
        assert max_rel_err(auto, rolled) <= 1e-10


@pytest.mark.parametrize("scan_unroll", [1, 8], ids=["rolled", "unrolled"])
@pytest.mark.parametrize("name", CELL_NAMES)
def test_tfb_gradients_equal_btf(name, scan_unroll):
    """layout="TFB": hand backward == jax.grad == the batch-major gradients (the layouts
    transposed), for params, inputs and a shared learned carry."""
    cell = rj.cells.CELLS[name]
    params, xs, carry0, mask, loss = _problem(cell, jax.random.key(11), (3, 5, 2, 4), True)

    def loss_tfb(backward, params, xs_t, carry0):
        def as_btf(cell, p, x, c, mask, reverse):
            hs, carry = rj.unroll(
                cell,
                p,
                jnp.transpose(x, (1, 2, 0)),
                c,
                mask=mask.T,
                reverse=reverse,
                layout="TFB",
                backward=backward,
                scan_unroll=scan_unroll,
            )
            return jnp.transpose(hs, (2, 0, 1)), jax.tree.map(lambda a: a.T, carry)

        return loss(as_btf, params, jnp.transpose(xs_t, (2, 0, 1)), carry0)

    ref = jax.grad(loss, (1, 2, 3))(AUTODIFF, params, xs, carry0)
    xs_t = jnp.transpose(xs, (1, 2, 0))
    for backward in ("autodiff", "bptt"):
        g_p, g_x, g_c = jax.grad(loss_tfb, (1, 2, 3))(backward, params, xs_t, carry0)
        chex.assert_shape(g_x, xs_t.shape)
        assert max_rel_err((g_p, jnp.transpose(g_x, (2, 0, 1)), g_c), ref) <= 1e-12
