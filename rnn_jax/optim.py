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

from rnn_jax import _checks

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
    _checks.check_range("learning_rate", learning_rate, low=0, low_open=True)
    _checks.check_range("eta_minus", eta_minus, low=0, high=1, low_open=True, high_open=True)
    _checks.check_range("eta_plus", eta_plus, low=1, low_open=True)
    _checks.check_range("min_step_size", min_step_size, low=0)
    _checks.check_range("max_step_size", max_step_size, low=0, low_open=True, allow_inf=True)
    lo, hi = _checks._concrete(min_step_size), _checks._concrete(max_step_size)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"min_step_size ({lo}) must be <= max_step_size ({hi})")


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

    ``irprop+`` needs the loss at the current parameters: ``update(g, state, params, value=loss)``.

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
        if variant == "irprop+":
            if value is None:
                raise ValueError("variant 'irprop+' needs the loss: update(..., value=loss)")
            worse = jnp.asarray(value, state.prev_loss.dtype) > state.prev_loss
        else:
            worse = None

        def leaf(g, prev_g, step, prev_u):
            if seed:
                sign_g = jnp.sign(g)
                step = step * jnp.where(sign_g == prev_g, eta_plus, eta_minus)
                step = jnp.clip(step, min_step_size, max_step_size)
                return step * sign_g, sign_g, step
            s = g * prev_g
            inc, dec = s > 0, s < 0
            factor = jnp.where(inc, eta_plus, jnp.where(dec, eta_minus, 1.0))
            step = jnp.clip(step * factor, min_step_size, max_step_size)
            u = step * jnp.sign(g)
            if variant == "rprop-":
                return u, g, step
            zero = jnp.zeros_like(g)
            g_kept = jnp.where(dec, zero, g)
            if variant == "irprop-":
                u_dec = zero
            elif variant == "rprop+":
                u_dec = -prev_u
            else:  # irprop+
                u_dec = jnp.where(worse, -prev_u, zero)
            return jnp.where(dec, u_dec, u), g_kept, step

        out = jax.tree.map(leaf, grads, state.prev_grads, state.step_sizes, state.prev_updates)
        treedef = jax.tree.structure(grads)
        u, kept, steps = (jax.tree.unflatten(treedef, x) for x in zip(*treedef.flatten_up_to(out)))
        prev_loss = state.prev_loss
        if value is not None:
            prev_loss = jnp.asarray(value, prev_loss.dtype)
        return u, ScaleByRpropState(steps, kept, u, prev_loss)

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

    Example::

      opt = rnn_jax.rprop(1e-3, variant="irprop+")
      state = opt.init(params)
      loss, g = jax.value_and_grad(f)(params)
      updates, state = opt.update(g, state, params, value=loss)
      params = optax.apply_updates(params, updates)
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
      This equals ``optax.rmsprop(lr, decay=λ, eps=ε, momentum=μ, nesterov=True)`` (whose trace
      is ``-V``) - a test asserts it - but gives you ``P`` back and the seed's names.
      ``torch.optim.RMSprop`` has no Nesterov option and puts ``eps`` outside the square root.
    """
    _checks.check_range("learning_rate", learning_rate, low=0, low_open=True)
    _checks.check_range("decay", decay, low=0, high=1, high_open=True)
    _checks.check_range("eps", eps, low=0, low_open=True)
    _checks.check_range("momentum", momentum, low=0, high=1, high_open=True)

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
