"""Running a cell over sequences: :func:`unroll`, the one forward function of rnn_jax."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from rnn_jax._src import bptt as bptt_lib
from rnn_jax._src import scan as scan_lib
from rnn_jax._src.cells import Cell

Array = jax.Array


def unroll(
    cell: Cell,
    params,
    xs: jax.typing.ArrayLike,
    carry0=None,
    *,
    mask: jax.typing.ArrayLike | None = None,
    lengths: jax.typing.ArrayLike | None = None,
    reverse: bool = False,
    readout: Callable[[Array], Any] | None = None,
    backward: str = "autodiff",
    layout: str = "BTF",
    scan_unroll: int | None = None,
) -> tuple[Any, Any]:
    r"""Runs ``cell`` over a batch of sequences with :func:`jax.lax.scan`.

    .. math:: (c_t, h_t) = \mathrm{cell.step}(c_{t-1}, x_t), \quad t = 1..T

    (``t = T..1`` with ``reverse``). Differentiate it with :func:`jax.grad`: ``backward``
    chooses how the gradient is computed, not what it is.

    Args:
      cell: an :class:`rnn_jax.cells.Cell` (``rnn_jax.cells.tanh``, ...).
      params: the cell's parameters (``params.w_x`` is ``(F, G*H)``).
      xs: the inputs: ``(B, T, F)`` for ``layout="BTF"`` (batch-major, like the seeds), or
        ``(T, F, B)`` for ``layout="TFB"``. Integer or bool inputs are cast to the params'
        dtype.
      carry0: the initial carry: ``None`` (zeros), leaves of shape ``(H,)`` (shared by the
        batch, e.g. a learned initial state; its gradient sums over the batch), or a batch of
        carries, leaves ``(B, H)`` (``BTF``) or ``(H, B)`` (``TFB``).
      mask: true on real steps, ``(B, T)`` (``BTF``) or ``(T, B)`` (``TFB``). A padded step
        keeps the carry, outputs zeros, contributes nothing to a loss and gets no gradient.
      lengths: ``(B,)`` integers, the mask ``t < lengths[b]``; instead of ``mask``.
      reverse: run from the last step to the first; outputs stay aligned with ``xs``.
      readout: a function of one step's states, ``(B, H)`` (``BTF``) or ``(H, B)``
        (``TFB``), applied inside the scan; its outputs are returned instead of the states,
        which are then never stored (with ``backward="autodiff"``).
      backward: ``"autodiff"`` (JAX transposes the scan) or ``"bptt"`` (the hand-written
        backward of :func:`rnn_jax.bptt`, as a ``jax.custom_vjp``). Same values and, up to
        float rounding, the same gradients.
      layout: ``"BTF"`` or ``"TFB"``; the seed sweeps compute in ``"TFB"``, which needs no
        transposes (``docs/performance.md``).
      scan_unroll: time steps unrolled per scan iteration; a sequence of at most this many
        steps is unrolled completely. ``None`` (default): 8 for a pass that is not
        differentiated, and for the scans of a gradient 1 for a gated cell (LSTM, GRU), 8
        otherwise. A speed choice: float rounding may differ slightly.

    Returns:
      ``(ys, carry_T)``. ``ys`` is the states, ``(B, T, H)`` (``BTF``) or ``(T, H, B)``
      (``TFB``), or the readout's outputs stacked along time (axis 1 for ``BTF``: a readout
      returning ``(B, K)`` gives ``(B, T, K)``; axis 0 for ``TFB``). ``carry_T`` is the final
      carry, leaves ``(B, H)`` or ``(H, B)``.

    Example:
      >>> import jax, jax.numpy as jnp, rnn_jax as rj
      >>> cell = rj.cells.gru
      >>> params = cell.init(jax.random.key(0), in_size=2, hidden_size=8)
      >>> hs, carry = rj.unroll(cell, params, jnp.ones((32, 7, 2)))
      >>> hs.shape, carry.shape
      ((32, 7, 8), (32, 8))
      >>> hs_hand, _ = rj.unroll(cell, params, jnp.ones((32, 7, 2)), backward="bptt")
      >>> bool(jnp.array_equal(hs, hs_hand))
      True
    """
    scan_lib.check_options(backward, layout, scan_unroll)
    xs, carry0, mask = scan_lib.prepare(cell, params, xs, carry0, mask, lengths, layout)
    btf = layout == "BTF"
    step_out = None
    if readout is not None:
        step_out = (lambda h: readout(h.T)) if btf else readout
    unrolls = scan_lib.auto_unroll(cell, scan_unroll)
    if backward == "bptt":
        hs, carry_T = bptt_lib.unroll_hand(
            cell, params, xs, carry0, mask, reverse, unrolls[0] if scan_unroll else unrolls
        )
        ys = hs if step_out is None else jax.vmap(step_out)(hs)
    else:
        carry_T, ys = _autodiff_scan(cell, params, xs, carry0, mask, reverse, unrolls, step_out)
    if btf:
        carry_T = scan_lib.transpose_carry(carry_T)
        if readout is None:
            ys = jnp.transpose(ys, (2, 0, 1))
        else:
            ys = jax.tree.map(lambda y: jnp.swapaxes(y, 0, 1), ys)
    return ys, carry_T


def _autodiff_scan(cell, params, xs, carry0, mask, reverse, unrolls, readout):
    """:func:`rnn_jax._src.scan.forward_scan` unrolled by ``unrolls[0]``, differentiated (by
    JAX) through the same scan unrolled by ``unrolls[1]`` (a ``custom_jvp`` whose rule is the
    JVP of that scan, so forward and reverse mode both work)."""
    forward_unroll, grad_unroll = unrolls

    def run(p, x, c, m, read, unroll):
        return scan_lib.forward_scan(
            cell, p, x, c, m, reverse=reverse, scan_unroll=unroll, readout=read
        )

    if forward_unroll == grad_unroll:
        return run(params, xs, carry0, mask, readout, forward_unroll)
    # A custom_jvp function may not close over values being differentiated: the readout's
    # (e.g. its weights) become explicit arguments.
    read, consts = None, []
    if readout is not None:
        h = jax.ShapeDtypeStruct((params.w_rec.shape[0], xs.shape[-1]), xs.dtype)
        read, consts = jax.closure_convert(readout, h)

    def with_consts(p, x, c, m, k, unroll):
        return run(p, x, c, m, None if read is None else (lambda h: read(h, *k)), unroll)

    @jax.custom_jvp
    def scan(p, x, c, m, k):
        return with_consts(p, x, c, m, k, forward_unroll)

    @scan.defjvp
    def _scan_jvp(primals, tangents):
        p, x, c, m, k = primals
        tp, tx, tc, _, tk = tangents
        return jax.jvp(
            lambda p, x, c, k: with_consts(p, x, c, m, k, grad_unroll),
            (p, x, c, k),
            (tp, tx, tc, tk),
        )

    return scan(params, xs, carry0, mask, list(consts))
