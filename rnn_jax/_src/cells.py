"""Recurrent cells as data plus pure functions.

Every cell in this module is written for **one example** (unbatched, like Equinox's cells).
:func:`rnn_jax.unroll` runs the forward core unchanged on a whole batch laid out
``(features, B)``, with the 1-D parameters as columns, so a core may only use elementwise
operations and ``split``/``concatenate`` along the features (axis 0); the backward core is
batched with :func:`jax.vmap`.

All four cells share one structure, which is what makes a generic hand-written BPTT possible:

    a_x = x_t W_x            (input pre-activation,     shape (G*H,))
    a_h = h_{t-1} W_rec      (recurrent pre-activation, shape (G*H,))
    carry_t, h_t = core(a_x, a_h, carry_{t-1})   (elementwise, cell specific)

with ``G`` gates (1 for linear and tanh, 4 for LSTM, 3 for GRU). ``core_fwd`` also returns
the residuals its hand-derived backward ``core_bwd`` needs; ``core_bwd`` maps the cotangent of
``(carry_t, h_t)`` to the cotangents of ``carry_{t-1}``, ``a_x`` and ``a_h``. The parameter
gradients of ``W_x``, ``W_rec`` and the biases are then contracted once over all steps (see
:mod:`rnn_jax.bptt`).

Conventions: row vectors, ``x @ W``, so ``W_x`` has shape ``(in_size, G*hidden)`` and ``W_rec``
``(hidden, G*hidden)``; gate blocks are contiguous along the last axis in the order stated in
each cell's docstring (PyTorch's order).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnn_jax._src import checks
from rnn_jax._src.linalg import matmul
from rnn_jax._src.registry import Registry

Array = jax.Array
Carry = Any


class Cell(NamedTuple):
    """A recurrent cell: a name and pure functions (no state, no classes with hidden state).

    Attributes:
      name: ``"linear"``, ``"tanh"``, ``"lstm"`` or ``"gru"``.
      gates: ``G``, the number of gate blocks in the pre-activations.
      init: ``init(key, in_size, hidden_size, dtype=jnp.float32, scheme="glorot") ->
        params``; ``scheme`` one of :data:`INIT_SCHEMES` (Glorot-uniform per gate block with
        zero biases, seed 002's; PyTorch's ``U(±1/sqrt(H))`` for every weight and bias; or
        Glorot input weights with orthogonal recurrent blocks). Drawn in float32 and cast,
        so float32 and float64 runs of a seed start from the same network.
      core_fwd: ``core_fwd(params, a_x, a_h, carry) -> (carry, h, residuals)``.
      core_bwd: ``core_bwd(params, residuals, d_carry, d_h) -> (d_carry_direct, d_a_x, d_a_h)``;
        ``d_carry_direct`` is ``dL/dcarry_{t-1}`` *except* the path through ``a_h``, which the
        generic backward adds as ``d_a_h W_recᵀ`` (so the matmul stays outside the per-example
        core, where it can be laid out for the whole batch).
      carry_h: ``carry_h(carry) -> h``, the part of the carry multiplied by ``W_rec``.
      add_h: ``add_h(carry, dh) -> carry`` with ``dh`` added to the ``h`` part.
      zero_carry: ``zero_carry(hidden_size, dtype) -> carry`` for one example.
      bias_grads: ``bias_grads(params, d_w_x, d_w_rec, sum_d_a_x, sum_d_a_h) -> params``, builds
        the gradient pytree from the contracted weight gradients and the summed pre-activation
        cotangents.
      params_from: ``params_from(w_x, w_rec, b_x, b_rec) -> params`` from an input-side and a
        recurrent-side bias, each ``(G*H,)``, as PyTorch keeps them (``b_ih``, ``b_hh``); most
        cells add them, the GRU keeps the recurrent bias of its candidate gate inside the reset
        product. Models with two biases (seed 002's adder) build their cell this way.
      tied: ``core_bwd``'s ``d_a_x`` and ``d_a_h`` are always equal (linear, tanh, LSTM; not
        GRU), so the backward stores one of them per step instead of two.

    Example:
      >>> import jax, jax.numpy as jnp, rnn_jax as rj
      >>> cell = rj.cells.lstm
      >>> p = cell.init(jax.random.key(0), in_size=2, hidden_size=4)
      >>> carry, h = cell.step(p, cell.zero_carry(4), jnp.ones(2))
      >>> h.shape, jax.tree.map(jnp.shape, carry)
      ((4,), ((4,), (4,)))
    """

    name: str
    gates: int
    init: Callable[..., Any]
    core_fwd: Callable[..., Any]
    core_bwd: Callable[..., Any]
    carry_h: Callable[[Carry], Array]
    add_h: Callable[[Carry, Array], Carry]
    zero_carry: Callable[..., Carry]
    bias_grads: Callable[..., Any]
    params_from: Callable[..., Any]
    tied: bool = False

    def step(self, params: Any, carry: Carry, x_t: Array) -> tuple[Carry, Array]:
        """One time step for one example: ``(carry_{t-1}, x_t) -> (carry_t, h_t)``.

        Args:
          params: the cell's parameters.
          carry: the previous carry (``h`` of shape ``(H,)``; ``(h, c)`` for the LSTM).
          x_t: the input, shape ``(in_size,)``.
        """
        a_x = matmul(x_t, params.w_x)
        a_h = matmul(self.carry_h(carry), params.w_rec)
        carry, h, _ = self.core_fwd(params, a_x, a_h, carry)
        return carry, h


# --------------------------------------------------------------------------- parameters


class LinearParams(NamedTuple):
    """``w_x``: (in, H); ``w_rec``: (H, H); ``b``: (H,) or ``None`` (no bias, as in seed 000)."""

    w_x: Array
    w_rec: Array
    b: Array | None = None


class TanhParams(NamedTuple):
    """``w_x``: (in, H); ``w_rec``: (H, H); ``b``: (H,)."""

    w_x: Array
    w_rec: Array
    b: Array


class LSTMParams(NamedTuple):
    """``w_x``: (in, 4H); ``w_rec``: (H, 4H); ``b``: (4H,). Gate order i, f, g, o."""

    w_x: Array
    w_rec: Array
    b: Array


class GRUParams(NamedTuple):
    """``w_x``: (in, 3H); ``w_rec``: (H, 3H); ``b``: (3H,); ``b_hn``: (H,). Gate order r, z, n."""

    w_x: Array
    w_rec: Array
    b: Array
    b_hn: Array


#: The initialisation schemes of the cells (and the seed models built on them).
INIT_SCHEMES = ("glorot", "pytorch", "orthogonal")


def glorot_uniform(key: Array, fan_in: int, fan_out: int, shape: tuple[int, ...], dtype) -> Array:
    """``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010; seed 002).

    Drawn in float32 and cast, so that a float64 run of a seed starts from the same network as
    its float32 run."""
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, shape, jnp.float32, minval=-a, maxval=a).astype(dtype)


def uniform_fan(key: Array, hidden: int, shape: tuple[int, ...], dtype) -> Array:
    """``U(-1/sqrt(H), 1/sqrt(H))``: PyTorch's default for every weight and bias of its
    recurrent layers (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``); drawn in float32 and cast."""
    a = 1.0 / math.sqrt(hidden)
    return jax.random.uniform(key, shape, jnp.float32, minval=-a, maxval=a).astype(dtype)


def orthogonal_blocks(key: Array, hidden: int, gates: int, dtype) -> Array:
    """``(H, G*H)``: each ``(H, H)`` gate block an orthogonal matrix (the QR decomposition of a
    standard normal matrix, signs fixed so the distribution is uniform; Saxe et al. 2014)."""
    blocks = []
    for k in jax.random.split(key, gates):
        q, r = jnp.linalg.qr(jax.random.normal(k, (hidden, hidden), jnp.float32))
        blocks.append(q * jnp.sign(jnp.diagonal(r))[None, :])
    return jnp.concatenate(blocks, axis=1).astype(dtype)


def check_scheme(scheme: str) -> str:
    """An initialisation scheme's name, checked."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
    return scheme


def _check_sizes(in_size: int, hidden_size: int) -> None:
    for name, v in (("in_size", in_size), ("hidden_size", hidden_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _gated_weights(key, in_size, hidden_size, gates, dtype, scheme="glorot"):
    """A cell's weights ``(in, G*H)``, ``(H, G*H)`` and its two biases ``(G*H,)`` each, the
    input-side and the recurrent-side (as PyTorch keeps them), by ``scheme``:

    * ``"glorot"``: Glorot-uniform per gate block, each ``(in, H)`` and ``(H, H)`` block with
      its own fans; zero biases (seed 002's).
    * ``"pytorch"``: every weight and both biases ``U(-1/sqrt(H), 1/sqrt(H))``, as PyTorch's
      ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``.
    * ``"orthogonal"``: input weights as ``"glorot"``, each recurrent gate block orthogonal;
      zero biases.
    """
    checks.check_key("key", key)
    _check_sizes(in_size, hidden_size)
    check_scheme(scheme)
    width = gates * hidden_size
    k_x, k_h = jax.random.split(key)
    if scheme == "pytorch":
        k_x, k_bx, k_bh = jax.random.split(k_x, 3)
        return (
            uniform_fan(k_x, hidden_size, (in_size, width), dtype),
            uniform_fan(k_h, hidden_size, (hidden_size, width), dtype),
            uniform_fan(k_bx, hidden_size, (width,), dtype),
            uniform_fan(k_bh, hidden_size, (width,), dtype),
        )
    w_x = glorot_uniform(k_x, in_size, hidden_size, (in_size, width), dtype)
    if scheme == "orthogonal":
        w_rec = orthogonal_blocks(k_h, hidden_size, gates, dtype)
    else:
        w_rec = glorot_uniform(k_h, hidden_size, hidden_size, (hidden_size, width), dtype)
    zeros = jnp.zeros((width,), dtype)
    return w_x, w_rec, zeros, zeros


def _zero_h(hidden_size: int, dtype=jnp.float32) -> Array:
    return jnp.zeros((hidden_size,), dtype)


def _identity(carry):
    return carry


def _add(carry, dh):
    return carry + dh


# --------------------------------------------------------------------------- linear


def _linear_init(key, in_size, hidden_size, dtype=jnp.float32, scheme="glorot") -> LinearParams:
    w_x, w_rec, _, _ = _gated_weights(key, in_size, hidden_size, 1, dtype, scheme)
    return LinearParams(w_x, w_rec)  # seed 000's recurrence has no bias


def _linear_fwd(params, a_x, a_h, carry):
    h = a_x + a_h if params.b is None else a_x + a_h + params.b
    return h, h, ()


def _linear_bwd(params, res, d_carry, d_h):
    d_z = d_carry + d_h
    return jnp.zeros_like(d_z), d_z, d_z


def _linear_grads(params, d_w_x, d_w_rec, sum_d_a_x, sum_d_a_h):
    return LinearParams(d_w_x, d_w_rec, None if params.b is None else sum_d_a_x)


def _summed_biases(params_type):
    def params_from(w_x, w_rec, b_x, b_rec):
        return params_type(w_x, w_rec, b_x + b_rec)

    return params_from


linear = Cell(
    name="linear",
    gates=1,
    init=_linear_init,
    core_fwd=_linear_fwd,
    core_bwd=_linear_bwd,
    carry_h=_identity,
    add_h=_add,
    zero_carry=_zero_h,
    bias_grads=_linear_grads,
    params_from=_summed_biases(LinearParams),
    tied=True,
)
"""Linear recurrence (seed 000): ``h_t = x_t W_x + h_{t-1} W_rec`` (``+ b`` if it has one).

Backward (``δ_t = dL/dh_t`` total, from the output and from step ``t+1``):
``dL/dh_{t-1} = δ_t W_recᵀ``, ``dW_x = Σ_t x_tᵀ δ_t``, ``dW_rec = Σ_t h_{t-1}ᵀ δ_t``.
"""


# --------------------------------------------------------------------------- tanh (Elman)


def _tanh_init(key, in_size, hidden_size, dtype=jnp.float32, scheme="glorot") -> TanhParams:
    return _summed_biases(TanhParams)(*_gated_weights(key, in_size, hidden_size, 1, dtype, scheme))


def _tanh_fwd(params, a_x, a_h, carry):
    h = jnp.tanh(a_x + a_h + params.b)
    return h, h, h


def _tanh_bwd(params, h, d_carry, d_h):
    d_z = (d_carry + d_h) * (1.0 - h * h)
    return jnp.zeros_like(d_z), d_z, d_z


def _tanh_grads(params, d_w_x, d_w_rec, sum_d_a_x, sum_d_a_h):
    return TanhParams(d_w_x, d_w_rec, sum_d_a_x)


tanh = Cell(
    name="tanh",
    gates=1,
    init=_tanh_init,
    core_fwd=_tanh_fwd,
    core_bwd=_tanh_bwd,
    carry_h=_identity,
    add_h=_add,
    zero_carry=_zero_h,
    bias_grads=_tanh_grads,
    params_from=_summed_biases(TanhParams),
    tied=True,
)
"""Elman cell (seeds 001, 002): ``h_t = tanh(x_t W_x + h_{t-1} W_rec + b)``.

Backward: ``δz_t = (dL/dh_t) ⊙ (1 - h_t²)``; ``dL/dh_{t-1} = δz_t W_recᵀ``;
``dW_x = Σ x_tᵀ δz_t``; ``dW_rec = Σ h_{t-1}ᵀ δz_t``; ``db = Σ δz_t``.
"""


# --------------------------------------------------------------------------- LSTM


def _lstm_init(key, in_size, hidden_size, dtype=jnp.float32, scheme="glorot") -> LSTMParams:
    return _summed_biases(LSTMParams)(*_gated_weights(key, in_size, hidden_size, 4, dtype, scheme))


def _lstm_fwd(params, a_x, a_h, carry):
    _, c_prev = carry
    z = a_x + a_h + params.b
    z_i, z_f, z_g, z_o = jnp.split(z, 4)
    i, f, o = jax.nn.sigmoid(z_i), jax.nn.sigmoid(z_f), jax.nn.sigmoid(z_o)
    g = jnp.tanh(z_g)
    c = f * c_prev + i * g
    tc = jnp.tanh(c)
    h = o * tc
    return (h, c), h, (i, f, g, o, c_prev, tc)


def _lstm_bwd(params, res, d_carry, d_h):
    i, f, g, o, c_prev, tc = res
    d_hc, d_cc = d_carry
    d_ht = d_hc + d_h
    d_o = d_ht * tc
    d_c = d_cc + d_ht * o * (1.0 - tc * tc)
    d_z = jnp.concatenate(
        [
            d_c * g * i * (1.0 - i),
            d_c * c_prev * f * (1.0 - f),
            d_c * i * (1.0 - g * g),
            d_o * o * (1.0 - o),
        ]
    )
    return (jnp.zeros_like(d_ht), d_c * f), d_z, d_z


def _lstm_grads(params, d_w_x, d_w_rec, sum_d_a_x, sum_d_a_h):
    return LSTMParams(d_w_x, d_w_rec, sum_d_a_x)


def _lstm_zero_carry(hidden_size: int, dtype=jnp.float32):
    return (_zero_h(hidden_size, dtype), _zero_h(hidden_size, dtype))


def _lstm_h(carry):
    return carry[0]


def _lstm_add_h(carry, dh):
    return (carry[0] + dh, carry[1])


lstm = Cell(
    name="lstm",
    gates=4,
    init=_lstm_init,
    core_fwd=_lstm_fwd,
    core_bwd=_lstm_bwd,
    carry_h=_lstm_h,
    add_h=_lstm_add_h,
    zero_carry=_lstm_zero_carry,
    bias_grads=_lstm_grads,
    params_from=_summed_biases(LSTMParams),
    tied=True,
)
"""LSTM as in PyTorch's ``nn.LSTM`` (one bias: PyTorch's ``b_ih + b_hh``). Carry ``(h, c)``::

    i = σ(x W_xi + h W_ri + b_i)    f = σ(x W_xf + h W_rf + b_f)
    g = tanh(x W_xg + h W_rg + b_g) o = σ(x W_xo + h W_ro + b_o)
    c' = f ⊙ c + i ⊙ g              h' = o ⊙ tanh(c')

Backward, with ``δh = dL/dh'`` and ``δc = dL/dc' + δh ⊙ o ⊙ (1 - tanh²c')``:
``δz_o = δh ⊙ tanh c' ⊙ o(1-o)``, ``δz_i = δc ⊙ g ⊙ i(1-i)``, ``δz_f = δc ⊙ c ⊙ f(1-f)``,
``δz_g = δc ⊙ i ⊙ (1-g²)``; ``dL/dh = δz W_recᵀ``; ``dL/dc = δc ⊙ f``.
"""


# --------------------------------------------------------------------------- GRU


def _gru_init(key, in_size, hidden_size, dtype=jnp.float32, scheme="glorot") -> GRUParams:
    return _gru_params_from(*_gated_weights(key, in_size, hidden_size, 3, dtype, scheme))


def _gru_fwd(params, a_x, a_h, h_prev):
    x_r, x_z, x_n = jnp.split(a_x + params.b, 3)
    h_r, h_z, h_n = jnp.split(a_h, 3)
    r = jax.nn.sigmoid(x_r + h_r)
    z = jax.nn.sigmoid(x_z + h_z)
    hn = h_n + params.b_hn
    n = jnp.tanh(x_n + r * hn)
    h = (1.0 - z) * n + z * h_prev
    return h, h, (r, z, n, hn, h_prev)


def _gru_bwd(params, res, d_carry, d_h):
    r, z, n, hn, h_prev = res
    d_ht = d_carry + d_h
    d_n = d_ht * (1.0 - z) * (1.0 - n * n)
    d_r = d_n * hn * r * (1.0 - r)
    d_z = d_ht * (h_prev - n) * z * (1.0 - z)
    d_a_x = jnp.concatenate([d_r, d_z, d_n])
    d_a_h = jnp.concatenate([d_r, d_z, d_n * r])
    return d_ht * z, d_a_x, d_a_h


def _gru_grads(params, d_w_x, d_w_rec, sum_d_a_x, sum_d_a_h):
    hidden = params.b_hn.shape[-1]
    return GRUParams(d_w_x, d_w_rec, sum_d_a_x, sum_d_a_h[2 * hidden :])


def _gru_params_from(w_x, w_rec, b_x, b_rec):
    hidden = w_rec.shape[0]
    b_rz = jnp.concatenate([b_rec[: 2 * hidden], jnp.zeros((hidden,), b_rec.dtype)])
    return GRUParams(w_x, w_rec, b_x + b_rz, b_rec[2 * hidden :])


gru = Cell(
    name="gru",
    gates=3,
    init=_gru_init,
    core_fwd=_gru_fwd,
    core_bwd=_gru_bwd,
    carry_h=_identity,
    add_h=_add,
    zero_carry=_zero_h,
    bias_grads=_gru_grads,
    params_from=_gru_params_from,
)
"""GRU as in PyTorch's ``nn.GRU`` (``b`` is ``b_ih`` with ``b_hr``, ``b_hz`` folded in)::

    r = σ(x W_xr + h W_rr + b_r)     z = σ(x W_xz + h W_rz + b_z)
    n = tanh(x W_xn + b_n + r ⊙ (h W_rn + b_hn))
    h' = (1 - z) ⊙ n + z ⊙ h

Backward, ``δ = dL/dh'``: ``δn = δ(1-z)(1-n²)``, ``δz = δ(h-n) z(1-z)``,
``δr = δn ⊙ (h W_rn + b_hn) ⊙ r(1-r)``; input-side cotangent ``[δr, δz, δn]``, recurrent-side
``[δr, δz, δn ⊙ r]``; ``dL/dh = [δr, δz, δn⊙r] W_recᵀ + δ ⊙ z``.
"""

#: The cells by name: ``CELLS["tanh"]``; an unknown name raises an error listing the valid ones.
CELLS: Registry[Cell] = Registry("cell", {c.name: c for c in (linear, tanh, lstm, gru)})
