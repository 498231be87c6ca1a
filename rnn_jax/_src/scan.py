"""The forward time scan every unroll runs, and the argument checks of the public API.

Everything here is internal. The scan is written once, **time-feature-batch** (``TFB``):
inputs ``(T, F, B)``, every per-step array ``(features, B)`` with the batch as the minor axis,
carry leaves ``(H, B)``. The public :func:`rnn_jax.unroll` transposes batch-major (``BTF``)
arguments into this layout; the seed sweeps keep their data in it (``docs/performance.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rnn_jax._src import checks
from rnn_jax._src.cells import Cell
from rnn_jax._src.linalg import matmul_t

Array = jax.Array
LAYOUTS = ("BTF", "TFB")
BACKWARDS = ("autodiff", "bptt")


#: ``scan_unroll=None``: steps per scan iteration of a pass that is not differentiated.
FORWARD_UNROLL = 8


def check_options(backward: str, layout: str, scan_unroll: int | None) -> None:
    if backward not in BACKWARDS:
        raise ValueError(f"backward must be one of {BACKWARDS}, got {backward!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if scan_unroll is not None:
        checks.check_positive_int("scan_unroll", scan_unroll)


def auto_unroll(cell: Cell, scan_unroll: int | None) -> tuple[int, int]:
    """``(forward, gradient)`` unroll factors: ``scan_unroll`` for both when given; for
    ``None``, :data:`FORWARD_UNROLL` for a pass that is not differentiated and, for the scans a
    gradient runs (the forward that keeps residuals and the backward), 1 for a gated cell
    (LSTM, GRU) and :data:`FORWARD_UNROLL` otherwise.

    Why (``docs/performance.md``): a forward-only scan unrolled is 2-5x faster than rolled (no
    dynamic slice per step in its loops), but the gradient of an unrolled gated cell makes
    XLA:CPU fuse the cheap multiply-add chain of the carry's cotangent into every consumer of
    every later step (GRU/LSTM, H = 4, T = 7-10: 1.3-4.5x slower than rolled, and 3-9x the
    HLO, so the compile too).
    """
    if scan_unroll is not None:
        return scan_unroll, scan_unroll
    return FORWARD_UNROLL, (1 if cell.gates > 1 else FORWARD_UNROLL)


def prepare(cell: Cell, params, xs, carry0, mask, lengths, layout: str):
    """Checks the arguments; returns ``(xs, carry0, mask)`` in the **TFB** layout.

    ``xs`` is ``(B, T, F)`` for ``layout="BTF"`` (carry leaves ``(H,)`` or ``(B, H)``, mask
    ``(B, T)``) or ``(T, F, B)`` for ``"TFB"`` (carry leaves ``(H,)`` or ``(H, B)``, mask
    ``(T, B)``). Returns ``xs`` ``(T, F, B)``, carry leaves ``(H, B)`` and a bool mask ``(T, B)``
    or ``None``. Raises ``ValueError`` naming the argument on a wrong rank, feature size, batch
    size, mask or carry shape; ``TypeError`` on a dtype that does not match the parameters.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be an rnn_jax Cell, got {type(cell).__name__}")
    w_x = params.w_x
    hidden = params.w_rec.shape[0]
    xs = jnp.asarray(xs)
    tfb = layout == "TFB"
    if tfb:
        checks.check_rank("xs", xs, 3, "(time, features, batch)")
        steps, features, batch = xs.shape
        feature_axis = "middle"
    else:
        checks.check_rank("xs", xs, 3, "(batch, time, features)")
        batch, steps, features = xs.shape
        feature_axis = "last"
    if batch < 1 or steps < 1:
        raise ValueError(f"xs must have at least one sequence and one step, got shape {xs.shape}")
    if features != w_x.shape[0]:
        raise ValueError(
            f"xs has {features} features ({feature_axis} axis) but the cell's params.w_x "
            f"expects {w_x.shape[0]} (xs shape {xs.shape}, w_x shape {w_x.shape})"
        )
    gh = cell.gates * hidden
    if params.w_rec.shape != (hidden, gh) or w_x.ndim != 2 or w_x.shape[1] != gh:
        raise ValueError(
            f"params do not belong to the {cell.name} cell: it needs w_x (in, {cell.gates}*H) "
            f"and w_rec (H, {cell.gates}*H), got w_x {tuple(w_x.shape)} and w_rec "
            f"{tuple(params.w_rec.shape)}"
        )
    if jnp.issubdtype(xs.dtype, jnp.complexfloating):
        raise TypeError(f"xs must be real, got dtype {xs.dtype}")
    if not jnp.issubdtype(xs.dtype, jnp.floating):
        xs = xs.astype(w_x.dtype)
    elif xs.dtype != w_x.dtype:
        raise TypeError(f"xs has dtype {xs.dtype} but the params have dtype {w_x.dtype}")

    if mask is not None and lengths is not None:
        raise ValueError("give mask or lengths, not both")
    if lengths is not None:
        lengths = jnp.asarray(lengths)
        if lengths.shape != (batch,):
            raise ValueError(f"lengths must have shape (batch,) = ({batch},), got {lengths.shape}")
        if not jnp.issubdtype(lengths.dtype, jnp.integer):
            raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
        if not isinstance(lengths, jax.core.Tracer):  # concrete: checked here
            bad = np.asarray(lengths)
            if bad.size and (bad.min() < 0 or bad.max() > steps):
                raise ValueError(
                    f"lengths must be in [0, {steps}] (the sequence length), got values from "
                    f"{bad.min()} to {bad.max()}"
                )
        mask = jnp.arange(steps)[:, None] < lengths[None, :]  # (T, B)
    elif mask is not None:
        mask = jnp.asarray(mask)
        want, names = (
            ((steps, batch), "(time, batch)") if tfb else ((batch, steps), "(batch, time)")
        )
        if mask.shape != want:
            raise ValueError(f"mask must have shape {names} = {want}, got {mask.shape}")
        mask = mask if mask.dtype == jnp.bool_ else mask != 0
        mask = mask if tfb else mask.T
    if not tfb:
        xs = jnp.transpose(xs, (1, 2, 0))
    carry0 = broadcast_carry(cell, carry0, batch, hidden, w_x.dtype, layout)
    return xs, carry0, mask


def broadcast_carry(cell: Cell, carry0, batch: int, hidden: int, dtype, layout: str):
    """``carry0`` as TFB carry leaves ``(H, B)``: ``None`` -> zeros; ``(H,)`` leaves are
    broadcast; a batch of carries must be ``(B, H)`` (``BTF``) or ``(H, B)`` (``TFB``)."""
    tfb = layout == "TFB"
    full = (hidden, batch) if tfb else (batch, hidden)
    names = "(hidden, batch)" if tfb else "(batch, hidden)"
    ref = cell.zero_carry(hidden, dtype)
    if carry0 is None:
        carry0 = ref
    elif jax.tree.structure(carry0) != jax.tree.structure(ref):
        raise ValueError(
            f"carry0 for the {cell.name} cell must have the structure of "
            f"{jax.tree.structure(ref)}, got {jax.tree.structure(carry0)}"
        )

    def one(c):
        c = jnp.asarray(c)
        if c.shape == (hidden,):
            return jnp.broadcast_to(c[:, None], (hidden, batch))
        if c.shape == full:
            return c if tfb else c.T
        raise ValueError(
            f"carry0 must have shape (hidden,) = ({hidden},) or {names} = {full}, got {c.shape}"
        )

    return jax.tree.map(one, carry0)


def transpose_carry(carry):
    """``(B, H)`` carry leaves <-> ``(H, B)`` carry leaves."""
    return jax.tree.map(lambda c: c.T, carry)


def scan(body, carry, xs, *, reverse: bool = False, scan_unroll: int = 8):
    """:func:`jax.lax.scan` over the leading axis of ``xs``, unrolled by ``scan_unroll``.

    A sequence of at most ``scan_unroll`` steps is unrolled in Python and the outputs stacked
    with :func:`jax.numpy.stack` (why: ``docs/performance.md``); a longer one is a ``lax.scan``
    with ``unroll=scan_unroll``. Both give the same numbers up to float rounding order.
    """
    steps = jax.tree.leaves(xs)[0].shape[0]
    if steps > scan_unroll:
        return lax.scan(body, carry, xs, reverse=reverse, unroll=scan_unroll)
    ys = [None] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        carry, ys[t] = body(carry, jax.tree.map(lambda a, t=t: a[t], xs))
    return carry, jax.tree.map(lambda *y: jnp.stack(y), *ys)


def keep(mask_t, new, old):
    """``new`` where ``mask_t`` ``(B,)`` is true, else ``old``; leaves ``(H, B)``."""
    keep_t = mask_t[None, :]
    return jax.tree.map(lambda n, o: jnp.where(keep_t, n, o), new, old)


def on_batch(core: Callable) -> Callable:
    """A cell's ``core_fwd`` (written for one example, features on axis 0) on ``(features, B)``
    arrays: its 1-D parameter leaves (biases) become columns that broadcast over the batch."""

    def apply(params, *args):
        return core(jax.tree.map(lambda a: a[:, None] if a.ndim == 1 else a, params), *args)

    return apply


def forward_scan(
    cell: Cell,
    params,
    xs: Array,
    carry0,
    mask,
    *,
    reverse: bool,
    scan_unroll: int,
    residuals: bool = False,
    readout: Callable[[Array], Any] | None = None,
) -> tuple[Any, Any]:
    """The forward scan on checked TFB arguments: ``xs`` ``(T, F, B)``, carry leaves ``(H, B)``,
    ``mask`` ``(T, B)`` or ``None``.

    Returns ``(carry_T, outs)``: ``carry_T`` leaves ``(H, B)``; ``outs`` is ``hs`` ``(T, H, B)``;
    with ``readout`` (and no residuals) ``readout(h_t)`` stacked over time instead (the states
    are then never stored); with ``residuals`` ``(hs, h_prev, res)``: ``h_prev`` ``(T, H, B)``
    and the cell's residuals, for the hand-written backward.
    """
    a_x = matmul_t(params.w_x, xs)  # (T, G*H, B)
    core = on_batch(cell.core_fwd)

    def body(carry, inp):
        a_x_t, m_t = inp
        h_prev = cell.carry_h(carry)
        new_carry, h, res = core(params, a_x_t, matmul_t(params.w_rec, h_prev), carry)
        if m_t is not None:
            new_carry = keep(m_t, new_carry, carry)
            h = jnp.where(m_t[None, :], h, jnp.zeros_like(h))
        if residuals:
            return new_carry, (h, h_prev, res)
        return new_carry, (h if readout is None else readout(h))

    return scan(body, carry0, (a_x, mask), reverse=reverse, scan_unroll=scan_unroll)
