"""Rprop (the seed's rule and Igel & Hüsken's variants) and RMSprop with Nesterov look-ahead,
hand-coded as optax gradient transformations.

Both work on any pytree, under ``jit`` and ``vmap``, and chain with optax
(``optax.chain(optax.clip_by_global_norm(1.0), rnn_jax.rprop(...))``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from rnn_jax._src import checks

Array = jax.Array
RPROP_VARIANTS = ("seed", "rprop-", "irprop-", "rprop+", "irprop+")


# --------------------------------------------------------------------------- Rprop


class ScaleByRpropState(NamedTuple):
    """State of :func:`scale_by_rprop`.

    ``step_sizes``: the per-parameter ``Δ``. ``prev_grads``: the previous gradient as the rule
    remembers it (its sign for ``"seed"``; zeroed after a sign change for ``irprop-``,
    ``rprop+`` and ``irprop+``). ``prev_updates``: the previous output (used to backtrack).
    ``prev_loss``: the previous loss (``irprop+``; ``inf`` before the first step).
    """

    step_sizes: Any
    prev_grads: Any
    prev_updates: Any
    prev_loss: Array


def _validate_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size, variant):
    if variant not in RPROP_VARIANTS:
        raise ValueError(f"variant must be one of {RPROP_VARIANTS}, got {variant!r}")
    checks.check_range("learning_rate", learning_rate, low=0, low_open=True)
    checks.check_range("eta_minus", eta_minus, low=0, high=1, low_open=True, high_open=True)
    checks.check_range("eta_plus", eta_plus, low=1, low_open=True)
    checks.check_range("min_step_size", min_step_size, low=0)
    checks.check_range("max_step_size", max_step_size, low=0, low_open=True, allow_inf=True)
    lo, hi = checks.concrete(min_step_size), checks.concrete(max_step_size)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"min_step_size ({lo}) must be <= max_step_size ({hi})")


# One Rprop rule per variant, for one parameter array. Each gets the gradient ``g``, what the
# rule remembers of the previous gradient ``mem``, the step sizes, the previous update and
# whether the loss went up (iRprop+ only), plus ``adapt(step, grow, shrink)``, the shared step
# size update; it returns ``(update, what to remember, step sizes)``.


def _seed_rule(g, mem, step, prev_u, worse, adapt):
    sign_g = jnp.sign(g)  # the seed compares signs, and remembers only the sign
    step = adapt(step, sign_g == mem, sign_g != mem)
    return step * sign_g, sign_g, step


def _rprop_minus_rule(g, mem, step, prev_u, worse, adapt):
    step = adapt(step, g * mem > 0, g * mem < 0)
    return step * jnp.sign(g), g, step


def _flip_rule(update_on_flip):
    """iRprop-, Rprop+, iRprop+: after a sign change, forget the gradient and take
    ``update_on_flip(prev_u, worse)`` instead of a step."""

    def rule(g, mem, step, prev_u, worse, adapt):
        flip = g * mem < 0
        step = adapt(step, g * mem > 0, flip)
        u = jnp.where(flip, update_on_flip(prev_u, worse), step * jnp.sign(g))
        return u, jnp.where(flip, jnp.zeros_like(g), g), step

    return rule


_RPROP_RULES = {
    "seed": _seed_rule,
    "rprop-": _rprop_minus_rule,
    "irprop-": _flip_rule(lambda prev_u, worse: jnp.zeros_like(prev_u)),
    "rprop+": _flip_rule(lambda prev_u, worse: -prev_u),
    "irprop+": _flip_rule(lambda prev_u, worse: jnp.where(worse, -prev_u, jnp.zeros_like(prev_u))),
}


def scale_by_rprop(
    learning_rate: float = 0.01,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
    min_step_size: float | None = None,
    max_step_size: float | None = None,
    *,
    variant: str = "irprop-",
) -> optax.GradientTransformationExtraArgs:
    r"""Rprop: a per-parameter step ``Δ`` adapted from gradient signs; outputs ``+Δ·sign(g)``.

    With ``s = g_{t-1} · g_t`` (per parameter) the Igel & Hüsken variants do::

        s > 0:  Δ ← min(Δ·η+, Δmax);  u = Δ·sign(g)
        s < 0:  Δ ← max(Δ·η−, Δmin);  then, by variant:
                  rprop-   u = Δ·sign(g)
                  irprop-  g ← 0; u = 0                   (this is torch.optim.Rprop)
                  rprop+   g ← 0; u = -u_{t-1}            (weight backtracking)
                  irprop+  g ← 0; u = -u_{t-1} if loss_t > loss_{t-1} else 0
        s = 0:  u = Δ·sign(g)

    and ``"seed"`` is seed 000's rule: ``Δ ← Δ·η+`` if ``sign(g_t) == sign(g_{t-1})`` else
    ``Δ ← Δ·η−`` (the first step compares with 0, so it shrinks), ``u = Δ·sign(g)``. The output
    ``u`` is in the gradient's direction; :func:`rprop` negates it.

    Args:
      learning_rate: the initial step ``Δ0`` (named as in ``optax.rprop``).
      eta_minus: the decrease factor, in (0, 1).
      eta_plus: the increase factor, > 1.
      min_step_size: ``Δmin`` >= 0; default 1e-6, or 0 (no bound) for ``"seed"``.
      max_step_size: ``Δmax``; default 50, or ``inf`` for ``"seed"``.
      variant: one of ``"seed"``, ``"rprop-"``, ``"irprop-"``, ``"rprop+"``, ``"irprop+"``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``. ``irprop+`` needs the loss at the current
      parameters: ``update(g, state, params, value=loss)``.

    Example:
      >>> import jax.numpy as jnp, rnn_jax as rj
      >>> opt = rj.scale_by_rprop(0.1, eta_plus=2.0, variant="rprop-")
      >>> state = opt.init(jnp.zeros(2))
      >>> u, state = opt.update(jnp.array([3.0, -1.0]), state)
      >>> u, state = opt.update(jnp.array([1.0, -2.0]), state)
      >>> [round(v, 6) for v in u.tolist()]  # same signs twice: the step doubled
      [0.2, -0.2]

    References:
      Riedmiller & Braun, "A direct adaptive method for faster backpropagation learning: the
      RPROP algorithm", ICNN 1993. Igel & Hüsken, "Improving the Rprop learning algorithm", 2000,
      and "Empirical evaluation of the improved Rprop learning algorithms", Neurocomputing 2003.

    Note:
      ``optax.scale_by_rprop`` (0.2.x) returns the previous step's update, one step late (see
      optax PR #1725); it is otherwise iRprop−-like. ``torch.optim.Rprop`` is ``irprop-`` with
      ``Δmin = 1e-6, Δmax = 50`` (its ``lr`` is our ``learning_rate``).
    """
    seed = variant == "seed"
    if min_step_size is None:
        min_step_size = 0.0 if seed else 1e-6
    if max_step_size is None:
        max_step_size = math.inf if seed else 50.0
    _validate_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size, variant)
    rule = _RPROP_RULES[variant]

    def adapt(step, grow, shrink):
        factor = jnp.where(grow, eta_plus, jnp.where(shrink, eta_minus, 1.0))
        return jnp.clip(step * factor, min_step_size, max_step_size)

    def init_fn(params):
        leaves = jax.tree.leaves(params)
        dtype = leaves[0].dtype if leaves else jnp.float32
        return ScaleByRpropState(
            step_sizes=jax.tree.map(lambda p: jnp.full_like(p, learning_rate), params),
            prev_grads=jax.tree.map(jnp.zeros_like, params),
            prev_updates=jax.tree.map(jnp.zeros_like, params),
            prev_loss=jnp.asarray(jnp.inf, dtype),
        )

    def update_fn(grads, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        worse = None
        if variant == "irprop+":
            if value is None:
                raise ValueError("variant 'irprop+' needs the loss: update(..., value=loss)")
            worse = jnp.asarray(value, state.prev_loss.dtype) > state.prev_loss
        out = jax.tree.map(
            lambda g, mem, step, prev_u: rule(g, mem, step, prev_u, worse, adapt),
            grads,
            state.prev_grads,
            state.step_sizes,
            state.prev_updates,
        )
        treedef = jax.tree.structure(grads)
        u, mem, steps = (jax.tree.unflatten(treedef, x) for x in zip(*treedef.flatten_up_to(out)))
        prev_loss = state.prev_loss if value is None else jnp.asarray(value, state.prev_loss.dtype)
        return u, ScaleByRpropState(steps, mem, u, prev_loss)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def rprop(
    learning_rate: float = 0.01,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
    min_step_size: float | None = None,
    max_step_size: float | None = None,
    *,
    variant: str = "irprop-",
) -> optax.GradientTransformationExtraArgs:
    """The Rprop optimizer: :func:`scale_by_rprop` followed by ``-1`` (descent).

    Args and variants as in :func:`scale_by_rprop`.

    Example:
      >>> import jax, jax.numpy as jnp, optax, rnn_jax as rj
      >>> f = lambda w: jnp.sum((w - 3.0) ** 2)
      >>> opt = rj.rprop(0.5, variant="irprop+")
      >>> w = jnp.zeros(2)
      >>> state = opt.init(w)
      >>> for _ in range(30):
      ...     loss, g = jax.value_and_grad(f)(w)
      ...     updates, state = opt.update(g, state, w, value=loss)
      ...     w = optax.apply_updates(w, updates)
      >>> bool(jnp.allclose(w, 3.0, atol=1e-3))
      True
    """
    return optax.chain(
        scale_by_rprop(
            learning_rate, eta_minus, eta_plus, min_step_size, max_step_size, variant=variant
        ),
        optax.scale(-1.0),
    )


# --------------------------------------------------------------------------- RMSprop + Nesterov


class RmspropNesterovState(NamedTuple):
    """``count``: steps taken; ``nu``: moving average of ``g²`` (seed's ``MA``);
    ``velocity``: the seed's ``V``; ``momentum``: ``μ`` (kept to recover the seed's ``P``)."""

    count: Array
    nu: Any
    velocity: Any
    momentum: Array


def rmsprop_nesterov(
    learning_rate: float | optax.Schedule = 0.05,
    decay: float = 0.5,
    eps: float = 1e-6,
    momentum: float = 0.8,
) -> optax.GradientTransformationExtraArgs:
    r"""RMSprop with Nesterov momentum, exactly as seed 002, re-parameterised for optax.

    The seed keeps parameters ``P`` and velocity ``V`` and per step does::

        V̂ = μV;  P ← P + V̂;  g = ∇L(P)            (gradient at the look-ahead point)
        MA ← λ·MA + (1-λ)·g²;  G = lr·g / sqrt(MA + ε)
        V ← V̂ - G;  P ← P - G

    An optax transformation sees the gradient at the parameters it holds, so we hold the
    look-ahead point ``Θ = P + μV`` instead (Sutskever et al. 2013; Bengio et al. 2013). Then
    ``Θ ← Θ + μV_new - G`` with ``V_new = μV - G`` reproduces the seed's trajectory exactly, and
    ``P = Θ - μV`` (:func:`rmsprop_nesterov_params`) is the seed's parameter, the one to evaluate.
    At the start ``V = 0``, so ``Θ_0 = P_0``.

    Args:
      learning_rate: ``lr`` (> 0), or an optax schedule of the step count.
      decay: ``λ`` in [0, 1).
      eps: ``ε`` > 0, added inside the square root.
      momentum: ``μ`` in [0, 1).

    Note:
      This equals ``optax.rmsprop(lr, decay=λ, eps=ε, momentum=μ, nesterov=True)``, whose
      momentum trace is the seed's ``V`` (a test asserts both), but gives you ``P`` back and the
      seed's names.
      ``torch.optim.RMSprop`` has no Nesterov option and puts ``eps`` outside the square root.

    Example:
      >>> import jax, jax.numpy as jnp, optax, rnn_jax as rj
      >>> f = lambda p: jnp.sum((p - 1.0) ** 2)
      >>> opt = rj.rmsprop_nesterov(0.05)
      >>> theta = jnp.zeros(3)  # the look-ahead point the loop holds
      >>> state = opt.init(theta)
      >>> for _ in range(200):
      ...     updates, state = opt.update(jax.grad(f)(theta), state, theta)
      ...     theta = optax.apply_updates(theta, updates)
      >>> p = rj.rmsprop_nesterov_params(theta, state)  # the seed's P, to evaluate
      >>> bool(jnp.allclose(p, 1.0, atol=0.05))
      True

    References:
      Tieleman & Hinton, "Lecture 6.5, RMSprop", 2012. Sutskever, Martens, Dahl & Hinton, "On
      the importance of initialization and momentum in deep learning", ICML 2013.
    """
    checks.check_range("learning_rate", learning_rate, low=0, low_open=True)
    checks.check_range("decay", decay, low=0, high=1, high_open=True)
    checks.check_range("eps", eps, low=0, low_open=True)
    checks.check_range("momentum", momentum, low=0, high=1, high_open=True)

    def init_fn(params):
        leaves = jax.tree.leaves(params)
        dtype = leaves[0].dtype if leaves else jnp.float32
        return RmspropNesterovState(
            count=jnp.zeros([], jnp.int32),
            nu=jax.tree.map(jnp.zeros_like, params),
            velocity=jax.tree.map(jnp.zeros_like, params),
            momentum=jnp.asarray(momentum, dtype),
        )

    def update_fn(grads, state, params=None, **extra_args):
        del params, extra_args
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        lr = jnp.asarray(lr)
        mu = state.momentum
        nu = jax.tree.map(lambda n, g: decay * n + (1 - decay) * g * g, state.nu, grads)
        big_g = jax.tree.map(lambda g, n: lr.astype(g.dtype) * g / jnp.sqrt(n + eps), grads, nu)
        vel = jax.tree.map(lambda v, gg: mu.astype(v.dtype) * v - gg, state.velocity, big_g)
        updates = jax.tree.map(lambda v, gg: mu.astype(v.dtype) * v - gg, vel, big_g)
        count = optax.safe_increment(state.count)
        return updates, RmspropNesterovState(count, nu, vel, mu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _find_state(opt_state, cls):
    if isinstance(opt_state, cls):
        return opt_state
    if isinstance(opt_state, tuple):
        for s in opt_state:
            found = _find_state(s, cls)
            if found is not None:
                return found
    return None


def rmsprop_nesterov_params(params, opt_state):
    """The seed's ``P = Θ - μV`` from the look-ahead parameters ``Θ`` an optax loop holds.

    ``opt_state`` is the state of :func:`rmsprop_nesterov`, or of a chain that contains it.
    Evaluate (test accuracy, final loss) at these parameters.
    """
    state = _find_state(opt_state, RmspropNesterovState)
    if state is None:
        raise ValueError("opt_state holds no rmsprop_nesterov state")
    return jax.tree.map(lambda p, v: p - state.momentum.astype(v.dtype) * v, params, state.velocity)
