"""Optimizers, step by step against golden values, literal transcriptions and optax."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnn_jax as rj
from rnn_jax import datasets, models, reference

# ---------------------------------------------------------------- Rprop: golden values by hand

# One scalar parameter; gradient sequence with sign flips, a zero, and a run that hits Δmax.
GRADS = [1.0, 2.0, -1.0, 0.0, 3.0, 3.0, -2.0, 1.0, 1.0, 1.0, 1.0]
LOSSES = [5.0, 4.0, 6.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2, 0.1]  # up at step 3 only
HP = dict(learning_rate=0.1, eta_minus=0.5, eta_plus=2.0, min_step_size=0.01, max_step_size=0.5)
# Parameter updates, worked out by hand from the rules in scale_by_rprop's docstring.
GOLDEN = {
    "rprop-": [-0.1, -0.2, 0.1, 0.0, -0.1, -0.2, 0.1, -0.05, -0.1, -0.2, -0.4],
    "irprop-": [-0.1, -0.2, 0.0, 0.0, -0.1, -0.2, 0.0, -0.1, -0.2, -0.4, -0.5],
    "rprop+": [-0.1, -0.2, 0.2, 0.0, -0.1, -0.2, 0.2, -0.1, -0.2, -0.4, -0.5],
    "irprop+": [-0.1, -0.2, 0.2, 0.0, -0.1, -0.2, 0.0, -0.1, -0.2, -0.4, -0.5],
    # The seed's rule has no bounds: Δ0 = 0.1 halves on the first step (sign 0 -> 1).
    "seed": [-0.05, -0.1, 0.05, 0.0, -0.0125, -0.025, 0.0125, -0.00625, -0.0125, -0.025, -0.05],
}


def _run_updates(opt, grads, losses=None, params=None):
    params = jnp.zeros((), jnp.float64) if params is None else params
    state = opt.init(params)
    out = []
    for i, g in enumerate(grads):
        extra = {} if losses is None else {"value": jnp.float64(losses[i])}
        u, state = opt.update(jnp.asarray(g, jnp.float64), state, params, **extra)
        out.append(u)
    return jnp.stack(out)


@pytest.mark.parametrize("variant", sorted(GOLDEN))
def test_rprop_variants_match_hand_computed_updates(variant):
    hp = dict(HP) if variant != "seed" else dict(learning_rate=0.1, eta_minus=0.5, eta_plus=2.0)
    opt = rj.rprop(**hp, variant=variant)
    got = _run_updates(opt, GRADS, LOSSES if variant == "irprop+" else None)
    chex.assert_trees_all_close(got, jnp.asarray(GOLDEN[variant]), rtol=1e-12, atol=1e-15)


def _torch_rprop_literal(params, grads_seq, lr, etas, step_sizes):
    """torch.optim.Rprop's documented algorithm, transcribed (foreach=False path)."""
    etaminus, etaplus = etas
    step_size_min, step_size_max = step_sizes
    param = np.array(params, dtype=np.float64)
    prev = np.zeros_like(param)
    step_size = np.full_like(param, lr)
    out = []
    for grad in grads_seq:
        grad = np.array(grad, dtype=np.float64)
        sign = np.sign(grad * prev)
        factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1.0))
        step_size = np.clip(step_size * factor, step_size_min, step_size_max)
        grad = grad.copy()
        grad[factor == etaminus] = 0
        param = param - np.sign(grad) * step_size
        prev = grad
        out.append(param.copy())
    return np.stack(out)


def test_irprop_minus_is_torch_rprop(key):
    grads = np.array(jax.random.normal(key, (40, 6), jnp.float64))
    grads[5, 2] = 0.0
    want = _torch_rprop_literal(np.zeros(6), grads, 0.01, (0.5, 1.2), (1e-6, 50.0))
    opt = rj.rprop(0.01, variant="irprop-")
    p = jnp.zeros(6, jnp.float64)
    state = opt.init(p)
    got = []
    for g in grads:
        u, state = opt.update(jnp.asarray(g), state, p)
        p = optax.apply_updates(p, u)
        got.append(p)
    chex.assert_trees_all_close(jnp.stack(got), want, rtol=1e-12, atol=1e-15)


def _quadratic_run(variant, w0, delta0, steps):
    opt = rj.rprop(delta0, eta_plus=1.2, eta_minus=0.5, variant=variant)
    w = jnp.asarray(w0, jnp.float64)
    state = opt.init(w)
    path = [float(w)]
    for _ in range(steps):
        loss, g = jax.value_and_grad(lambda v: v**2)(w)
        u, state = opt.update(g, state, w, value=loss)
        w = optax.apply_updates(w, u)
        path.append(float(w))
    return path


def test_backtracking_exactly_when_it_should():
    # Δ0 = 0.9: w 1 -> 0.1 -> -0.98 (overshoot, loss up) -> both "+" variants go back to 0.1.
    for variant in ("rprop+", "irprop+"):
        path = _quadratic_run(variant, 1.0, 0.9, 3)
        np.testing.assert_allclose(path, [1.0, 0.1, -0.98, 0.1], atol=1e-12)
    # Δ0 = 0.6: w 1 -> 0.4 -> -0.32 (sign change but loss went down): Rprop+ backtracks,
    # iRprop+ does not (it stays put for one step), Rprop- steps on with a halved Δ.
    np.testing.assert_allclose(
        _quadratic_run("rprop+", 1.0, 0.6, 3), [1, 0.4, -0.32, 0.4], atol=1e-12
    )
    np.testing.assert_allclose(
        _quadratic_run("irprop+", 1.0, 0.6, 3), [1, 0.4, -0.32, -0.32], atol=1e-12
    )
    np.testing.assert_allclose(
        _quadratic_run("rprop-", 1.0, 0.6, 3), [1, 0.4, -0.32, 0.04], atol=1e-12
    )


def test_irprop_plus_requires_the_loss():
    opt = rj.rprop(variant="irprop+")
    p = jnp.zeros(3)
    with pytest.raises(ValueError, match="value=loss"):
        opt.update(jnp.ones(3), opt.init(p), p)


def test_optax_rprop_is_one_step_late():
    """Pins optax's known lag (optax PR #1725): if upstream fixes it, this fails - update us."""
    grads = [jnp.asarray(g, jnp.float64) for g in (1.0, 0.5, 2.0, 1.5, 0.1)]  # no sign change
    ours = _run_updates(rj.rprop(0.1, variant="irprop-"), grads)
    theirs = _run_updates(optax.rprop(0.1), grads)
    assert float(theirs[0]) == 0.0 and float(ours[0]) != 0.0
    chex.assert_trees_all_close(theirs[1:], ours[:-1], rtol=1e-12)


# ---------------------------------------------------------------- Rprop: seed 000 reproduced


@pytest.fixture(scope="module")
def seed000_run():
    X, T = jnp.asarray(datasets.SEED000_X), jnp.asarray(datasets.SEED000_T)
    opt = rj.rprop(0.001, eta_minus=0.5, eta_plus=1.2, variant="seed")

    def step(carry, _):
        p, s = carry
        g = jax.grad(models.counter_loss)(p, X, T)
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
        return (p, s), jnp.stack([p.w_x[0, 0], p.w_rec[0, 0]])

    p0 = models.counter_init(-1.5, 2.0, jnp.float64)
    (p, _), path = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), length=500))(p0)
    return p, path


def test_seed000_final_weights_and_test_output(seed000_run):
    p, _ = seed000_run
    assert f"{float(p.w_x[0, 0]):.4f}" == "1.0014"
    assert f"{float(p.w_rec[0, 0]):.4f}" == "0.9997"
    out = models.counter_apply(p, datasets.SEED000_TEST)
    assert f"{float(out[0]):.2f}" == "5.00"


def test_seed000_whole_path_equals_the_literal_loop(seed000_run):
    _, path = seed000_run
    want = reference.seed000_rprop(datasets.SEED000_X, datasets.SEED000_T)[1:]
    chex.assert_trees_all_close(path, np.asarray(want), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- RMSprop + Nesterov


def _seed002_loop_literal(P, grad_fn, steps, lmbd, learning_rate, momentum_term, eps):
    """Seed 002's update loop, transcribed line by line (one array per parameter)."""
    P = [np.array(p, dtype=np.float64) for p in P]
    maSquare = [0.0 for _ in P]
    Vs = [0.0 for _ in P]
    trajectory = []
    for step in range(steps):
        lr = learning_rate(step) if callable(learning_rate) else learning_rate
        V_tmp = [v * momentum_term for v in Vs]
        for pIdx in range(len(P)):
            P[pIdx] += V_tmp[pIdx]
        backprop_grads = grad_fn(P)
        for pIdx in range(len(P)):
            maSquare[pIdx] = lmbd * maSquare[pIdx] + (1 - lmbd) * backprop_grads[pIdx] ** 2
            pGradNorm = lr * backprop_grads[pIdx] / np.sqrt(maSquare[pIdx] + eps)
            Vs[pIdx] = V_tmp[pIdx] - pGradNorm
            P[pIdx] -= pGradNorm
        trajectory.append([p.copy() for p in P])
    return trajectory


@pytest.fixture(scope="module")
def small_problem():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 3))
    y = rng.normal(size=5)

    def grad_np(P):  # logistic-ish loss on a weight matrix and a vector
        w, b = P
        r = np.tanh(A @ w + b) - y
        d = r * (1 - np.tanh(A @ w + b) ** 2)
        return [A.T @ d / 5, np.array(d.mean())]

    def loss_jax(P):
        w, b = P
        return 0.5 * jnp.mean((jnp.tanh(jnp.asarray(A) @ w + b) - jnp.asarray(y)) ** 2)

    P0 = [rng.normal(size=3), np.array(0.3)]
    return P0, grad_np, loss_jax


def test_rmsprop_nesterov_replays_the_seed_loop(small_problem):
    P0, grad_np, loss_jax = small_problem
    hp = dict(lmbd=0.5, learning_rate=0.05, momentum_term=0.8, eps=1e-6)
    want = _seed002_loop_literal(P0, grad_np, 50, **hp)
    opt = rj.rmsprop_nesterov(learning_rate=0.05, decay=0.5, eps=1e-6, momentum=0.8)
    theta = [jnp.asarray(p) for p in P0]
    state = opt.init(theta)
    for t in range(50):
        g = jax.grad(loss_jax)(theta)
        u, state = opt.update(g, state, theta)
        theta = optax.apply_updates(theta, u)
        P = rj.rmsprop_nesterov_params(theta, state)
        chex.assert_trees_all_close(P, want[t], rtol=1e-10, atol=1e-12)


def test_rmsprop_nesterov_equals_optax_under_change_of_variables(small_problem):
    P0, _, loss_jax = small_problem
    ours = rj.rmsprop_nesterov(0.05, 0.5, 1e-6, 0.8)
    theirs = optax.rmsprop(0.05, decay=0.5, eps=1e-6, momentum=0.8, nesterov=True)
    a = b = [jnp.asarray(p) for p in P0]
    sa, sb = ours.init(a), theirs.init(b)
    for _ in range(50):
        ua, sa = ours.update(jax.grad(loss_jax)(a), sa, a)
        ub, sb = theirs.update(jax.grad(loss_jax)(b), sb, b)
        a, b = optax.apply_updates(a, ua), optax.apply_updates(b, ub)
        chex.assert_trees_all_close(a, b, rtol=1e-10, atol=1e-12)  # same look-ahead point
        trace = sb[2].trace  # optax's trace is the seed's velocity V
        chex.assert_trees_all_close(sa.velocity, trace, rtol=1e-10, atol=1e-12)


def test_rmsprop_nesterov_schedule(small_problem):
    """A schedule is evaluated at each step's count: 30 steps replay the seed's loop with the
    learning rate of that step (halving every 10 steps)."""
    P0, grad_np, loss_jax = small_problem
    sched = optax.exponential_decay(0.05, 10, 0.5, staircase=True)
    # The schedule's own value at each step (optax returns float32 even under x64).
    literal = lambda step: float(sched(jnp.int32(step)))  # noqa: E731
    assert literal(9) == pytest.approx(0.05) and literal(10) == pytest.approx(0.025)
    want = _seed002_loop_literal(P0, grad_np, 30, 0.5, literal, 0.8, 1e-6)
    opt = rj.rmsprop_nesterov(sched)
    theta = [jnp.asarray(x) for x in P0]
    state = opt.init(theta)
    for t in range(30):
        u, state = opt.update(jax.grad(loss_jax)(theta), state, theta)
        theta = optax.apply_updates(theta, u)
        chex.assert_trees_all_close(
            rj.rmsprop_nesterov_params(theta, state), want[t], rtol=1e-10, atol=1e-12
        )
    assert int(state.count) == 30
    # ... and a constant rate would have gone elsewhere after the first decay.
    const = _seed002_loop_literal(P0, grad_np, 30, 0.5, 0.05, 0.8, 1e-6)
    assert not np.allclose(const[-1][0], want[-1][0], rtol=1e-6)


def test_rmsprop_nesterov_params_needs_its_state():
    with pytest.raises(ValueError, match="rmsprop_nesterov"):
        rj.rmsprop_nesterov_params(jnp.zeros(2), optax.adam(0.1).init(jnp.zeros(2)))


# ---------------------------------------------------------------- every transformation

ALL = {
    **{f"rprop[{v}]": (lambda v=v: rj.rprop(0.01, variant=v)) for v in rj.RPROP_VARIANTS},
    "rmsprop_nesterov": lambda: rj.rmsprop_nesterov(),
    "chained": lambda: optax.chain(optax.clip_by_global_norm(1.0), rj.rprop(0.01)),
}


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_finite_dtype_preserving_no_retrace_vmappable(name, dtype):
    opt = ALL[name]()
    params = {"w": jnp.ones((3, 2), dtype), "b": jnp.zeros((2,), dtype)}

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state, g, loss):
        u, state = opt.update(g, state, params, value=loss)
        return optax.apply_updates(params, u), state

    state = opt.init(params)
    for i in range(3):
        g = jax.tree.map(lambda p: jnp.full_like(p, (-1.0) ** i * (i + 1)), params)
        params, state = step(params, state, g, jnp.asarray(3.0 - i, dtype))
    chex.clear_trace_counter()
    chex.assert_tree_all_finite(params)
    chex.assert_trees_all_equal_dtypes(params, {"w": jnp.ones((), dtype), "b": jnp.ones((), dtype)})

    # vmapped over a batch of 4 parameter sets == one at a time, over 6 steps whose gradient
    # signs flip and whose loss goes up and down (sign changes, backtracking, iRprop+'s test).
    batch = jax.tree.map(lambda p: jnp.stack([p * (k + 1) for k in range(4)]), params)
    signs = jnp.asarray([1.0, -1.0, -1.0, 1.0, 1.0, -1.0], dtype)
    losses = jnp.asarray([3.0, 4.0, 2.0, 2.5, 1.0, 0.5], dtype)

    def run(p):
        def step(carry, inp):
            p, s = carry
            sign, loss = inp
            g = jax.tree.map(lambda a: sign * (jnp.sin(a) + 0.5), p)
            u, s = opt.update(g, s, p, value=loss)
            return (optax.apply_updates(p, u), s), u

        return jax.lax.scan(step, (p, opt.init(p)), (signs, losses))

    vm = jax.vmap(run)(batch)
    for k in range(4):
        one = run(jax.tree.map(lambda a, k=k: a[k], batch))
        chex.assert_trees_all_close(jax.tree.map(lambda a, k=k: a[k], vm), one)
    if name in ("rprop[irprop-]", "rprop[rprop+]", "rprop[irprop+]"):
        assert bool(jnp.any(vm[0][1][0].prev_grads["w"] == 0))  # a sign change happened


BAD_HP = [
    (lambda: rj.rprop(0.0), "learning_rate"),
    (lambda: rj.rprop(-1.0), "learning_rate"),
    (lambda: rj.rprop(eta_minus=1.0), "eta_minus"),
    (lambda: rj.rprop(eta_minus=0.0), "eta_minus"),
    (lambda: rj.rprop(eta_plus=1.0), "eta_plus"),
    (lambda: rj.rprop(eta_plus=float("nan")), "eta_plus"),
    (lambda: rj.rprop(min_step_size=-1.0), "min_step_size"),
    (lambda: rj.rprop(max_step_size=0.0), "max_step_size"),
    (lambda: rj.rprop(min_step_size=1.0, max_step_size=0.5), "min_step_size"),
    (lambda: rj.rprop(variant="rprop"), "variant"),
    (lambda: rj.rmsprop_nesterov(learning_rate=0.0), "learning_rate"),
    (lambda: rj.rmsprop_nesterov(decay=1.0), "decay"),
    (lambda: rj.rmsprop_nesterov(decay=-0.1), "decay"),
    (lambda: rj.rmsprop_nesterov(eps=0.0), "eps"),
    (lambda: rj.rmsprop_nesterov(momentum=1.0), "momentum"),
]


@pytest.mark.parametrize("make,name", BAD_HP)
def test_bad_hyperparameters_name_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


leaf_shapes = st.lists(
    st.lists(st.integers(1, 4), min_size=0, max_size=2).map(tuple), min_size=1, max_size=3
)


@settings(max_examples=6, deadline=None)
@given(
    shapes=leaf_shapes,
    seed=st.integers(0, 2**16),
    variant=st.sampled_from(rj.RPROP_VARIANTS),
    scale=st.floats(1e-3, 1e3),
)
def test_rprop_updates_finite_and_within_bounds(shapes, seed, variant, scale):
    lo, hi = 1e-4, 0.5
    opt = rj.scale_by_rprop(0.01, min_step_size=lo, max_step_size=hi, variant=variant)
    keys = jax.random.split(jax.random.key(seed), len(shapes) * 8).reshape(8, len(shapes))
    params = [jnp.zeros(s) for s in shapes]
    state = opt.init(params)
    for t in range(8):
        g = [scale * jax.random.normal(k, s) for k, s in zip(keys[t], shapes)]
        u, state = opt.update(g, state, params, value=jnp.asarray(float(t % 3)))
        chex.assert_tree_all_finite(u)
        for leaf, step in zip(u, state.step_sizes):
            assert float(jnp.max(jnp.abs(leaf), initial=0.0)) <= hi + 1e-12
            assert float(jnp.min(step, initial=hi)) >= lo - 1e-12


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    mu=st.floats(0.0, 0.95),
    decay=st.floats(0.0, 0.99),
)
def test_rmsprop_nesterov_finite(seed, shape, mu, decay):
    opt = rj.rmsprop_nesterov(0.05, decay=decay, momentum=mu)
    p = jax.random.normal(jax.random.key(seed), shape)
    s = opt.init(p)
    for t in range(5):
        g = jax.random.normal(jax.random.key(seed + t + 1), shape) * 10.0**t
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
        chex.assert_tree_all_finite((u, s.nu, s.velocity))


# (what, call, exception, the message must contain)
BAD_INPUTS = [
    ("rprop lr 0", lambda: rj.rprop(0.0), ValueError, "learning_rate"),
    ("rprop eta_minus", lambda: rj.rprop(eta_minus=1.5), ValueError, "eta_minus"),
    ("rprop eta_plus", lambda: rj.rprop(eta_plus=0.9), ValueError, "eta_plus"),
    (
        "rprop min > max",
        lambda: rj.rprop(min_step_size=2.0, max_step_size=1.0),
        ValueError,
        "min_step_size",
    ),
    ("rprop variant", lambda: rj.rprop(variant="iRprop"), ValueError, "variant"),
    ("rmsprop momentum 1", lambda: rj.rmsprop_nesterov(momentum=1.0), ValueError, "momentum"),
    ("rmsprop decay -1", lambda: rj.rmsprop_nesterov(decay=-1.0), ValueError, "decay"),
    ("rmsprop lr nan", lambda: rj.rmsprop_nesterov(float("nan")), ValueError, "learning_rate"),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
