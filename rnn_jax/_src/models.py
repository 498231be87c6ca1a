"""The three seed networks as small compositions of a cell, :func:`rnn_jax.unroll` and a readout.

Every ``apply``/``loss`` takes the options of :func:`rnn_jax.unroll`: ``backward``
(``"autodiff"`` or ``"bptt"``: the same values, only the gradient path differs), ``layout``
(``"BTF"``, batch-major like the seeds, or ``"TFB"``, which the seed sweeps compute in) and
``scan_unroll``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnn_jax._src import cells, checks, losses
from rnn_jax._src import scan as scan_lib
from rnn_jax._src.cells import glorot_uniform
from rnn_jax._src.linalg import matmul, matmul_t
from rnn_jax._src.unroll import unroll

Array = jax.Array


def _to_tfb(xs: Array, layout: str, rank: int, names: str) -> Array:
    """Checks ``xs`` and returns it time-first: ``(B, T, ...)`` -> ``(T, ..., B)``."""
    xs = jnp.asarray(xs)
    if layout == "TFB":
        checks.check_rank("xs", xs, rank, names.replace("batch, time", "time, batch"))
        return xs
    checks.check_rank("xs", xs, rank, names)
    return jnp.moveaxis(xs, 0, -1)


# --------------------------------------------------------------------------- counter (seed 000)


def counter_init(w_x: float = -1.5, w_rec: float = 2.0, dtype=jnp.float32) -> cells.LinearParams:
    """The scalar linear RNN of seed 000, ``s_k = s_{k-1} w_rec + x_k w_x``; seed start values.

    Example:
      >>> import rnn_jax as rj
      >>> p = rj.models.counter_init(1.0, 1.0)
      >>> rj.models.counter_apply(p, [[1, 0, 1, 1]]).tolist()
      [3.0]
    """
    return cells.LinearParams(
        jnp.full((1, 1), w_x, dtype=dtype), jnp.full((1, 1), w_rec, dtype=dtype)
    )


def counter_apply(
    params: cells.LinearParams,
    xs: Array,
    *,
    backward: str = "autodiff",
    layout: str = "BTF",
    scan_unroll: int = 8,
) -> Array:
    """Final state ``(B,)`` of the linear RNN for binary sequences ``xs``, ``(B, T)`` (``BTF``)
    or ``(T, B)`` (``TFB``)."""
    scan_lib.check_options(backward, layout, scan_unroll)
    xs = _to_tfb(xs, layout, 2, "(batch, time)")
    _, s_T = unroll(
        cells.linear,
        params,
        xs[:, None, :],
        backward=backward,
        layout="TFB",
        scan_unroll=scan_unroll,
    )
    return s_T[0]


def counter_loss(params, xs, targets, **options) -> Array:
    """Mean squared error between the final state and the count (seed 000's loss); ``options``
    as in :func:`counter_apply`."""
    return losses.mse(counter_apply(params, xs, **options), targets)


# --------------------------------------------------------------------------- tagger (seed 001)


class TaggerParams(NamedTuple):
    """``cell``: tanh cell ``(vocab -> H)``; ``w_out``: (H, vocab); ``b_out``: (vocab,)."""

    cell: cells.TanhParams
    w_out: Array
    b_out: Array


def tagger_init(
    key: Array, vocab: int = 3, hidden: int = 10, *, scheme: str = "glorot", dtype=jnp.float32
) -> TaggerParams:
    """Tanh RNN with a softmax readout. ``scheme="normal"`` draws every parameter from N(0, 1)
    as seed 001 does (``np.random.randn``); ``"glorot"`` is Glorot-uniform with zero biases;
    ``"pytorch"`` and ``"orthogonal"`` are the cells' schemes (:data:`rnn_jax.cells.Cell`'s
    ``init``), the readout Glorot with a zero bias (``"pytorch"``: ``U(±1/sqrt(H))``)."""
    checks.check_key("key", key)
    checks.check_positive_int("vocab", vocab, minimum=2)
    checks.check_positive_int("hidden", hidden)
    k_cell, k_out, k_b1, k_b2 = jax.random.split(key, 4)
    if scheme in cells.INIT_SCHEMES:
        cell = cells.tanh.init(k_cell, vocab, hidden, dtype, scheme=scheme)
        if scheme == "pytorch":
            w_out = cells.uniform_fan(k_out, hidden, (hidden, vocab), dtype)
            return TaggerParams(cell, w_out, cells.uniform_fan(k_b2, hidden, (vocab,), dtype))
        w_out = glorot_uniform(k_out, hidden, vocab, (hidden, vocab), dtype)
        return TaggerParams(cell, w_out, jnp.zeros((vocab,), dtype))
    if scheme == "normal":
        k_x, k_h = jax.random.split(k_cell)
        normal = jax.random.normal
        cell = cells.TanhParams(
            normal(k_x, (vocab, hidden), dtype),
            normal(k_h, (hidden, hidden), dtype),
            normal(k_b1, (hidden,), dtype),
        )
        return TaggerParams(
            cell, normal(k_out, (hidden, vocab), dtype), normal(k_b2, (vocab,), dtype)
        )
    raise ValueError(f"scheme must be one of {(*cells.INIT_SCHEMES, 'normal')}, got {scheme!r}")


def tagger_apply(
    params: TaggerParams,
    tokens: Array,
    *,
    backward: str = "autodiff",
    layout: str = "BTF",
    scan_unroll: int = 8,
) -> Array:
    """Logits for integer tokens (one-hot inputs, zero ``h_0``): tokens ``(B, T)`` -> logits
    ``(B, T, vocab)`` (``BTF``), or ``(T, B)`` -> ``(T, vocab, B)`` (``TFB``)."""
    tokens = jnp.asarray(tokens)
    checks.check_rank("tokens", tokens, 2, "(batch, time)" if layout == "BTF" else "(time, batch)")
    vocab = params.w_out.shape[1]
    xs = jax.nn.one_hot(tokens, vocab, dtype=params.w_out.dtype)
    if layout == "TFB":
        xs = jnp.swapaxes(xs, 1, 2)
    hs, _ = unroll(
        cells.tanh, params.cell, xs, backward=backward, layout=layout, scan_unroll=scan_unroll
    )
    if layout == "TFB":
        return matmul_t(params.w_out, hs) + params.b_out[None, :, None]
    return matmul(hs, params.w_out) + params.b_out[None, None, :]


def tagger_loss(params, tokens, targets, *, reduction: str = "sum", **options) -> Array:
    """Cross-entropy of the per-step softmax; summed over steps and sequences like seed 001.
    ``options`` as in :func:`tagger_apply`; ``targets`` shaped like ``tokens``."""
    logits = tagger_apply(params, tokens, **options)
    if options.get("layout", "BTF") == "TFB":
        logits = jnp.swapaxes(logits, 1, 2)
    return losses.softmax_cross_entropy(logits, targets, reduction=reduction)


# --------------------------------------------------------------------------- adder (seed 002)


class AdderParams(NamedTuple):
    """Seed 002's parameters, each kept separate as there (so optimizers see the same set).

    ``s0`` learned initial carry (leaves ``(H,)``); ``w_in`` (2, G*H), ``b_in`` (G*H,) input
    projection; ``w_rec`` (H, G*H), ``b_rec`` (G*H,) recurrence; ``w_out`` (H, 1), ``b_out``
    (1,) readout. ``G`` is the cell's number of gates (1 for seed 002's tanh cell).
    """

    s0: Any
    w_in: Array
    b_in: Array
    w_rec: Array
    b_rec: Array
    w_out: Array
    b_out: Array


def adder_init(
    key: Array,
    hidden: int = 3,
    dtype=jnp.float32,
    *,
    cell: cells.Cell = cells.tanh,
    init_scale: float | Array = 1.0,
    scheme: str = "glorot",
) -> AdderParams:
    """The adder's initial parameters, weights times ``init_scale``, ``S_0`` zero.

    ``scheme="glorot"`` is seed 002's: Glorot-uniform weights (``W_rec`` with
    ``a = sqrt(6/2H)``, each gate block with its own fans), zero biases. ``"pytorch"``: every
    weight and bias ``U(±1/sqrt(H))`` (PyTorch's recurrent layers and, with fan-in ``H``, its
    ``nn.Linear`` readout). ``"orthogonal"``: Glorot, but each recurrent gate block orthogonal.
    Drawn in float32 and cast, so float32 and float64 runs of a seed start from one network.

    Example:
      >>> import jax, rnn_jax as rj
      >>> p = rj.models.adder_init(jax.random.key(0), hidden=3)
      >>> p.w_in.shape, p.w_rec.shape, p.w_out.shape
      ((2, 3), (3, 3), (3, 1))
      >>> rj.models.adder_init(jax.random.key(0), 3, cell=rj.cells.gru).w_rec.shape
      (3, 9)
    """
    checks.check_key("key", key)
    checks.check_positive_int("hidden", hidden)
    if not isinstance(cell, cells.Cell):
        raise TypeError(f"cell must be an rnn_jax Cell, got {type(cell).__name__}")
    checks.check_range("init_scale", init_scale, low=0, low_open=True)
    cells.check_scheme(scheme)
    k_in, k_rec, k_out = jax.random.split(key, 3)
    width = cell.gates * hidden
    scale = jnp.asarray(init_scale, dtype)
    zeros = jnp.zeros((width,), dtype)
    if scheme == "pytorch":
        k_in, k_bi, k_br, k_bo = jax.random.split(k_in, 4)
        uniform = lambda k, shape: cells.uniform_fan(k, hidden, shape, dtype)  # noqa: E731
        return AdderParams(
            s0=cell.zero_carry(hidden, dtype),
            w_in=uniform(k_in, (2, width)) * scale,
            b_in=uniform(k_bi, (width,)),
            w_rec=uniform(k_rec, (hidden, width)) * scale,
            b_rec=uniform(k_br, (width,)),
            w_out=uniform(k_out, (hidden, 1)) * scale,
            b_out=uniform(k_bo, (1,)),
        )
    if scheme == "orthogonal":
        w_rec = cells.orthogonal_blocks(k_rec, hidden, cell.gates, dtype)
    else:
        w_rec = glorot_uniform(k_rec, hidden, hidden, (hidden, width), dtype)
    return AdderParams(
        s0=cell.zero_carry(hidden, dtype),
        w_in=glorot_uniform(k_in, 2, hidden, (2, width), dtype) * scale,
        b_in=zeros,
        w_rec=w_rec * scale,
        b_rec=zeros,
        w_out=glorot_uniform(k_out, hidden, 1, (hidden, 1), dtype) * scale,
        b_out=jnp.zeros((1,), dtype),
    )


def _adder_cell(params: AdderParams, cell: cells.Cell):
    """The adder's recurrence as ``cell``'s parameters (see :func:`adder_apply`)."""
    return cell.params_from(params.w_in, params.w_rec, params.b_in, params.b_rec)


def _adder_readout(params: AdderParams, h: Array) -> Array:
    """Logits ``(B,)`` of one step's states ``(H, B)``."""
    return matmul_t(params.w_out, h)[0] + params.b_out[0]


def adder_apply(
    params: AdderParams,
    xs: Array,
    *,
    cell: cells.Cell = cells.tanh,
    backward: str = "autodiff",
    layout: str = "BTF",
    scan_unroll: int = 8,
) -> Array:
    """Logits of "output bit is 1": inputs ``(B, T, 2)`` -> ``(B, T)`` (``BTF``), or
    ``(T, 2, B)`` -> ``(T, B)`` (``TFB``).

    With seed 002's tanh cell, ``S_k = tanh((x_k W_in + b_in) + S_{k-1} W_rec + b_rec)``: the
    tanh cell with ``W_x = W_in`` and ``b = b_in + b_rec`` (so both biases receive the same
    gradient, as in the seed), started from the learned ``S_0``; ``logit_k = S_k W_out +
    b_out``. Any other ``cell`` takes the two biases as PyTorch's (``Cell.params_from``).
    """
    scan_lib.check_options(backward, layout, scan_unroll)
    logits, _ = unroll(
        cell,
        _adder_cell(params, cell),
        _to_tfb(xs, layout, 3, "(batch, time, 2)"),
        params.s0,
        readout=lambda h: _adder_readout(params, h),
        backward=backward,
        layout="TFB",
        scan_unroll=scan_unroll,
    )
    return logits if layout == "TFB" else logits.T


def adder_loss(params, xs, targets, **options) -> Array:
    """Binary cross-entropy averaged over samples and steps (seed 002's cost); ``options`` as
    in :func:`adder_apply`, ``targets`` shaped like the logits."""
    return losses.sigmoid_binary_cross_entropy(adder_apply(params, xs, **options), targets)


def adder_tree_accuracy(params: AdderParams, tree, *, cell: cells.Cell = cells.tanh) -> Array:
    """Fraction of all ``4**bits`` pairs the adder sums exactly (every output bit right).

    Evaluated on :func:`rnn_jax.datasets.addition_prefix_tree`: each distinct input prefix is
    run once (the arithmetic of :func:`adder_apply` on all pairs, 2.8x fewer cell steps for 6
    bits), and a pair is right when every node on its path is.
    """
    inputs, targets = tree
    cell_params = _adder_cell(params, cell)
    carry = jax.tree.map(lambda c: c[:, None], params.s0)
    ok = jnp.ones((1,), jnp.bool_)
    for x, t in zip(inputs, targets):
        children = x.shape[-1] // ok.shape[-1]
        carry = jax.tree.map(lambda c: jnp.repeat(c, children, axis=-1), carry)
        ok = jnp.repeat(ok, children)
        logits, carry = unroll(
            cell,
            cell_params,
            x[None],
            carry,
            layout="TFB",
            readout=lambda h: _adder_readout(params, h),
        )
        ok = ok & ((logits[0] > 0) == (t > 0.5))
    return jnp.mean(ok.astype(params.w_out.dtype))
