"""The three seed networks as small compositions of a cell, :func:`unroll` and a readout.

Every ``apply``/``loss`` takes ``backward="autodiff"`` (``jax.grad`` through the scan) or
``backward="bptt"`` (the hand-written backward of :mod:`rnn_jax.bptt`): the forward values are
identical, only the gradient path differs.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnn_jax import _checks, cells, losses
from rnn_jax._linalg import matmul, matmul_fm
from rnn_jax.bptt import unroll_bptt, unroll_bptt_fm
from rnn_jax.cells import glorot_uniform
from rnn_jax.unroll import unroll, unroll_fm

Array = jax.Array
BACKWARDS = ("autodiff", "bptt")


_UNROLLS = {"autodiff": (unroll, unroll_fm), "bptt": (unroll_bptt, unroll_bptt_fm)}


def get_unroll(backward: str, *, feature_major: bool = False):
    """:func:`rnn_jax.unroll` for ``"autodiff"``, :func:`rnn_jax.unroll_bptt` for ``"bptt"``;
    their ``_fm`` versions with ``feature_major``."""
    if backward not in _UNROLLS:
        raise ValueError(f"backward must be one of {BACKWARDS}, got {backward!r}")
    return _UNROLLS[backward][feature_major]


# --------------------------------------------------------------------------- counter (seed 000)


def counter_init(w_x: float = -1.5, w_rec: float = 2.0, dtype=jnp.float32) -> cells.LinearParams:
    """The scalar linear RNN of seed 000, ``s_k = s_{k-1} w_rec + x_k w_x``; seed start values."""
    return cells.LinearParams(
        jnp.full((1, 1), w_x, dtype=dtype), jnp.full((1, 1), w_rec, dtype=dtype)
    )


def counter_apply(params: cells.LinearParams, xs: Array, *, backward: str = "autodiff") -> Array:
    """Final state of the linear RNN for binary sequences ``xs`` ``(B, T)``; returns ``(B,)``."""
    xs = jnp.asarray(xs)
    _checks.check_rank("xs", xs, 2, "(batch, time)")
    _, s_T = get_unroll(backward)(cells.linear, params, xs[..., None])
    return s_T[:, 0]


def counter_loss(params, xs, targets, *, backward: str = "autodiff") -> Array:
    """Mean squared error between the final state and the count (seed 000's loss)."""
    return losses.mse(counter_apply(params, xs, backward=backward), targets)


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
    as seed 001 does (``np.random.randn``); ``"glorot"`` is Glorot-uniform with zero biases."""
    _checks.check_key("key", key)
    _checks.check_positive_int("vocab", vocab, minimum=2)
    _checks.check_positive_int("hidden", hidden)
    k_cell, k_out, k_b1, k_b2 = jax.random.split(key, 4)
    if scheme == "glorot":
        cell = cells.tanh.init(k_cell, vocab, hidden, dtype)
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
    raise ValueError(f"scheme must be 'glorot' or 'normal', got {scheme!r}")


def tagger_apply(params: TaggerParams, tokens: Array, *, backward: str = "autodiff") -> Array:
    """Logits ``(B, T, vocab)`` for integer tokens ``(B, T)`` (one-hot inputs, zero ``h_0``)."""
    tokens = jnp.asarray(tokens)
    _checks.check_rank("tokens", tokens, 2, "(batch, time)")
    vocab = params.w_out.shape[1]
    xs = jax.nn.one_hot(tokens, vocab, dtype=params.w_out.dtype)
    hs, _ = get_unroll(backward)(cells.tanh, params.cell, xs)
    return matmul(hs, params.w_out) + params.b_out[None, None, :]


def tagger_loss(params, tokens, targets, *, backward: str = "autodiff", reduction: str = "sum"):
    """Cross-entropy of the per-step softmax; summed over steps and sequences like seed 001."""
    logits = tagger_apply(params, tokens, backward=backward)
    return losses.softmax_cross_entropy(logits, targets, reduction=reduction)


# --------------------------------------------------------------------------- adder (seed 002)


class AdderParams(NamedTuple):
    """Seed 002's parameters, each kept separate as there (so optimizers see the same set).

    ``s0`` (H,) learned initial state; ``w_in`` (2, H), ``b_in`` (H,) input projection;
    ``w_rec`` (H, H), ``b_rec`` (H,) recurrence; ``w_out`` (H, 1), ``b_out`` (1,) readout.
    """

    s0: Array
    w_in: Array
    b_in: Array
    w_rec: Array
    b_rec: Array
    w_out: Array
    b_out: Array


def adder_init(key: Array, hidden: int = 3, dtype=jnp.float32) -> AdderParams:
    """Seed 002's initialisation: Glorot-uniform weights (``W_rec`` with ``a = sqrt(6/2H)``),
    zero biases, zero ``S_0``."""
    _checks.check_key("key", key)
    _checks.check_positive_int("hidden", hidden)
    k_in, k_rec, k_out = jax.random.split(key, 3)
    zeros = jnp.zeros((hidden,), dtype)
    return AdderParams(
        s0=zeros,
        w_in=glorot_uniform(k_in, 2, hidden, (2, hidden), dtype),
        b_in=zeros,
        w_rec=glorot_uniform(k_rec, hidden, hidden, (hidden, hidden), dtype),
        b_rec=zeros,
        w_out=glorot_uniform(k_out, hidden, 1, (hidden, 1), dtype),
        b_out=jnp.zeros((1,), dtype),
    )


def _adder_cell(params: AdderParams) -> cells.TanhParams:
    """The adder's recurrence as the tanh cell (see :func:`adder_apply`)."""
    return cells.TanhParams(params.w_in, params.w_rec, params.b_in + params.b_rec)


def _adder_readout(params: AdderParams, h: Array) -> Array:
    """Logits ``(B,)`` of one step's states ``(H, B)``."""
    return matmul_fm(params.w_out, h)[0] + params.b_out[0]


def adder_logits_fm(params: AdderParams, xs: Array, *, backward: str = "autodiff") -> Array:
    """:func:`adder_apply` feature-major: inputs ``(T, 2, B)``, logits ``(T, B)``, no transposes
    (what the seed sweeps train on)."""
    cell_params = _adder_cell(params)
    readout = lambda h: _adder_readout(params, h)  # noqa: E731
    if backward == "autodiff":  # logits straight from the scan; the states are never stored
        logits, _ = unroll_fm(cells.tanh, cell_params, xs, params.s0, readout=readout)
        return logits
    hs, _ = get_unroll(backward, feature_major=True)(cells.tanh, cell_params, xs, params.s0)
    return jax.vmap(readout)(hs)


def adder_tree_accuracy(params: AdderParams, tree) -> Array:
    """Fraction of all ``4**bits`` pairs the adder sums exactly (every output bit right),
    evaluated on :func:`rnn_jax.tasks.addition_prefix_tree`: each distinct input prefix is run
    once (the same cell arithmetic as :func:`adder_logits_fm` on all pairs, 2.8x fewer steps
    for 6 bits) and a pair is right when every node on its path is."""
    inputs, targets = tree
    cell_params = _adder_cell(params)
    h = params.s0[:, None]
    ok = jnp.ones((1,), jnp.bool_)
    for x, t in zip(inputs, targets):
        children = x.shape[-1] // h.shape[-1]
        h, ok = jnp.repeat(h, children, axis=-1), jnp.repeat(ok, children)
        _, h = unroll_fm(cells.tanh, cell_params, x[None], h)
        ok = ok & ((_adder_readout(params, h) > 0) == (t > 0.5))
    return jnp.mean(ok.astype(params.w_out.dtype))


def adder_apply(params: AdderParams, xs: Array, *, backward: str = "autodiff") -> Array:
    """Logits ``(B, T)`` of "output bit is 1" for inputs ``(B, T, 2)``.

    ``S_k = tanh((x_k W_in + b_in) + S_{k-1} W_rec + b_rec)`` is exactly the tanh cell with
    ``W_x = W_in`` and ``b = b_in + b_rec`` (so both biases receive the same gradient, as in the
    seed), started from the learned ``S_0``; ``logit_k = S_k W_out + b_out``.
    """
    xs = jnp.asarray(xs)
    _checks.check_rank("xs", xs, 3, "(batch, time, 2)")
    return adder_logits_fm(params, jnp.transpose(xs, (1, 2, 0)), backward=backward).T


def adder_loss(params, xs, targets, *, backward: str = "autodiff") -> Array:
    """Binary cross-entropy averaged over samples and steps (seed 002's cost)."""
    return losses.sigmoid_binary_cross_entropy(adder_apply(params, xs, backward=backward), targets)


def adder_loss_fm(params, xs, targets, *, backward: str = "autodiff") -> Array:
    """:func:`adder_loss` feature-major: inputs ``(T, 2, B)``, targets ``(T, B)``."""
    return losses.sigmoid_binary_cross_entropy(
        adder_logits_fm(params, xs, backward=backward), targets
    )
