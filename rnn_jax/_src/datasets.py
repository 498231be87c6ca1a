"""Data for the seed tasks: counting ones (seed 000), next number mod k (seed 001), binary
addition (seed 002).

All generators are pure functions of a ``jax.random`` key, so a training run that builds its
data from its key is reproducible and vmappable over seeds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnn_jax._src import checks

Array = jax.Array

#: Largest operand width whose ``4**bits`` pairs are enumerated (the adder's test set).
MAX_ENUMERATED_BITS = 10

#: The 20 x 10 binary sequences printed in seed 000 (``np.random.seed(1)``).
SEED000_X = np.array(
    [
        [0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
        [0, 1, 0, 1, 0, 1, 0, 1, 0, 0],
        [1, 1, 0, 1, 1, 1, 0, 0, 0, 1],
        [0, 0, 1, 1, 1, 0, 1, 1, 0, 1],
        [1, 1, 0, 1, 0, 0, 1, 0, 0, 0],
        [0, 1, 0, 0, 0, 0, 1, 0, 1, 1],
        [0, 0, 1, 0, 0, 1, 1, 1, 1, 1],
        [1, 0, 0, 1, 0, 0, 1, 0, 1, 1],
        [1, 1, 1, 0, 0, 1, 0, 1, 1, 1],
        [0, 1, 0, 1, 0, 0, 1, 1, 0, 1],
        [0, 1, 1, 0, 1, 1, 0, 1, 1, 1],
        [0, 0, 1, 1, 0, 1, 1, 1, 1, 0],
        [0, 0, 0, 0, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 0, 1, 0, 1, 0, 1, 1],
        [1, 0, 0, 0, 0, 0, 0, 1, 1, 0],
        [0, 1, 1, 0, 0, 1, 0, 1, 1, 1],
        [0, 0, 1, 1, 0, 0, 0, 0, 1, 1],
        [0, 1, 1, 0, 1, 1, 1, 0, 0, 0],
        [1, 0, 1, 0, 0, 1, 0, 1, 1, 1],
        [0, 0, 1, 1, 1, 1, 0, 0, 1, 1],
    ],
    dtype=np.float64,
)
#: Seed 000's targets: the number of ones per sequence.
SEED000_T = SEED000_X.sum(axis=1)
#: Seed 000's test sequence (five ones).
SEED000_TEST = np.array([[0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1]], dtype=np.float64)


def counting_ones_data(key: Array, n: int, length: int, dtype=jnp.float32) -> tuple[Array, Array]:
    """``n`` uniform binary sequences of ``length`` steps and their counts of ones.

    Returns ``xs`` ``(n, length)`` and ``targets`` ``(n,)``, both ``dtype``.
    """
    checks.check_key("key", key)
    checks.check_positive_int("n", n)
    checks.check_positive_int("length", length)
    xs = jax.random.bernoulli(key, 0.5, (n, length)).astype(dtype)
    return xs, xs.sum(axis=1)


def next_number_data(
    key: Array, n: int, length: int, vocab: int = 3, *, memory: bool = False
) -> tuple[Array, Array]:
    """Token sequences over ``{0..vocab-1}`` and the per-step targets.

    Target ``(x_t + 1) mod vocab`` (seed 001), or with ``memory=True``
    ``(x_t + x_{t-1}) mod vocab`` (``x_{-1} = 0``), which needs one step of memory.
    Returns ``tokens`` and ``targets``, both int32 ``(n, length)``.
    """
    checks.check_key("key", key)
    checks.check_positive_int("n", n)
    checks.check_positive_int("length", length)
    checks.check_positive_int("vocab", vocab, minimum=2)
    tokens = jax.random.randint(key, (n, length), 0, vocab, dtype=jnp.int32)
    if memory:
        prev = jnp.pad(tokens[:, :-1], ((0, 0), (1, 0)))
        return tokens, (tokens + prev) % vocab
    return tokens, (tokens + 1) % vocab


def to_bits(numbers: Array, width: int) -> Array:
    """Integers ``(...)`` to bits ``(..., width)``, least-significant bit first."""
    numbers = jnp.asarray(numbers)
    shifts = jnp.arange(width, dtype=numbers.dtype).reshape((1,) * numbers.ndim + (width,))
    return (numbers[..., None] >> shifts) & 1


def from_bits(bits: Array) -> Array:
    """Bits ``(..., width)``, least-significant first, to int32 integers ``(...)``."""
    bits = jnp.asarray(bits).astype(jnp.int32)
    width = bits.shape[-1]
    shifts = jnp.arange(width, dtype=jnp.int32).reshape((1,) * (bits.ndim - 1) + (width,))
    return jnp.sum(bits << shifts, axis=-1)


def check_bits(bits: int, *, enumerated: bool = False) -> int:
    """``bits`` as an operand width: at most 30 (sums are int32), or
    :data:`MAX_ENUMERATED_BITS` when all ``4**bits`` pairs are enumerated."""
    checks.check_positive_int("bits", bits)
    if bits > 30:
        raise ValueError(f"bits must be <= 30 (sums are held in int32), got {bits}")
    if enumerated and bits > MAX_ENUMERATED_BITS:
        raise ValueError(
            f"bits must be <= {MAX_ENUMERATED_BITS} (the test set enumerates 4**bits pairs), "
            f"got {bits}"
        )
    return bits


def encode_addition(a: Array, b: Array, bits: int, dtype=jnp.float32) -> tuple[Array, Array]:
    """Seed 002's encoding of ``a + b``: inputs ``(n, bits+1, 2)``, targets ``(n, bits+1)``.

    Both operands are written with ``bits`` bits, least-significant first, padded with one zero
    step so the ``bits+1``-bit sum fits.
    """
    check_bits(bits)
    xs = jnp.stack([to_bits(a, bits + 1), to_bits(b, bits + 1)], axis=-1).astype(dtype)
    return xs, to_bits(a + b, bits + 1).astype(dtype)


def delayed_recall_data(
    key: Array, n: int, length: int = 10, delay: int = 3, dtype=jnp.float32
) -> tuple[Array, Array]:
    """``n`` uniform bit sequences and, at every step ``t``, the bit seen ``delay`` steps
    earlier: inputs ``(n, length, 1)``, targets ``(n, length)`` (``targets[:, t] =
    inputs[:, t - delay, 0]``; the first ``delay`` targets wrap around and are not meant to be
    read: ``rnn_jax.sequence_task(..., readout=delay)``)."""
    checks.check_key("key", key)
    checks.check_positive_int("n", n)
    _check_recall(length, delay)
    bits = jax.random.bernoulli(key, 0.5, (n, length, 1)).astype(dtype)
    return bits, jnp.roll(bits[..., 0], delay, axis=1)


def all_delayed_recall(length: int = 10, delay: int = 3, dtype=jnp.float32) -> tuple[Array, Array]:
    """Every sequence of ``length`` bits (``2**length`` of them, at most 20 bits) with its
    :func:`delayed_recall_data` targets: a test set on which exact match is exact."""
    _check_recall(length, delay)
    if length > 20:
        raise ValueError(f"length = {length}: at most 20 (2**length sequences are enumerated)")
    bits = (jnp.arange(2**length)[:, None] >> jnp.arange(length)[None, :] & 1).astype(dtype)
    return bits[..., None], jnp.roll(bits, delay, axis=1)


def _check_recall(length, delay) -> None:
    checks.check_positive_int("length", length)
    checks.check_positive_int("delay", delay)
    if delay >= length:
        raise ValueError(f"delay = {delay} must be below length = {length}")


def binary_addition_data(
    key: Array, n: int, bits: int = 6, dtype=jnp.float32
) -> tuple[Array, Array]:
    """``n`` random pairs of ``bits``-bit numbers (uniform in ``[0, 2**bits)``), as seed 002."""
    checks.check_key("key", key)
    checks.check_positive_int("n", n)
    check_bits(bits)
    ka, kb = jax.random.split(key)
    a = jax.random.randint(ka, (n,), 0, 2**bits, dtype=jnp.int32)
    b = jax.random.randint(kb, (n,), 0, 2**bits, dtype=jnp.int32)
    return encode_addition(a, b, bits, dtype)


def all_addition_pairs(bits: int = 6, dtype=jnp.float32) -> tuple[Array, Array]:
    """Every pair of ``bits``-bit numbers (``4**bits`` of them; 4096 for 6 bits)."""
    check_bits(bits, enumerated=True)
    grid = jnp.arange(2**bits, dtype=jnp.int32)
    a, b = jnp.meshgrid(grid, grid, indexing="ij")
    return encode_addition(a.ravel(), b.ravel(), bits, dtype)


def addition_prefix_tree(bits: int = 6, dtype=jnp.float32) -> tuple[tuple[Array, ...], ...]:
    """:func:`all_addition_pairs` as a prefix tree, to evaluate a model on all ``4**bits`` pairs
    with ``4 + 16 + ... + 2 * 4**bits`` cell steps instead of ``(bits + 1) * 4**bits`` (2.8x
    fewer for 6 bits).

    The state after step ``k`` depends only on the first ``k + 1`` input pairs, so level ``k``
    holds one node per distinct prefix: ``n_k = 4**(k+1)`` nodes for ``k < bits``, node
    ``4 * parent + 2 a_k + b_k``; the last level (input ``(0, 0)``, target the carry out) has
    one node per pair. Returns ``(inputs, targets)``: per level, inputs ``(2, n_k)``
    (feature-major) and targets ``(n_k,)``, the bit ``k`` of the prefix sum (of the full sum).
    """
    check_bits(bits, enumerated=True)
    # NumPy: a constant of the compiled program, not operations traced into it.
    inputs, targets = [], []
    for k in range(bits + 1):
        n = 4 ** min(k + 1, bits)
        node = np.arange(n, dtype=np.int64)
        # Input pair j of a node is its base-4 digit j (the most significant digit is step 0).
        digits = [(node >> (2 * (min(k, bits - 1) - j))) & 3 for j in range(min(k + 1, bits))]
        a = sum((d >> 1) << j for j, d in enumerate(digits))
        b = sum((d & 1) << j for j, d in enumerate(digits))
        last = digits[-1] if k < bits else np.zeros_like(node)
        inputs.append(jnp.asarray(np.stack([last >> 1, last & 1]), dtype))
        targets.append(jnp.asarray(((a + b) >> k) & 1, dtype))
    return tuple(inputs), tuple(targets)


def long_addition(key: Array, n: int, bits: int, dtype=jnp.float32) -> tuple[Array, Array]:
    """Random ``bits``-bit operands of any length, summed exactly by a ripple-carry in bits.

    Same layout as :func:`encode_addition` (``(n, bits+1, 2)`` inputs, ``(n, bits+1)`` targets),
    without the int32 limit, for length-generalisation tests (64-bit sums and beyond).
    """
    checks.check_key("key", key)
    checks.check_positive_int("n", n)
    checks.check_positive_int("bits", bits)
    ab = jax.random.bernoulli(key, 0.5, (n, bits, 2)).astype(jnp.int32)
    ab = jnp.pad(ab, ((0, 0), (0, 1), (0, 0)))

    def add(carry, pair):
        total = pair[:, 0] + pair[:, 1] + carry
        return total // 2, total % 2

    _, sums = jax.lax.scan(add, jnp.zeros((n,), jnp.int32), jnp.swapaxes(ab, 0, 1))
    return ab.astype(dtype), jnp.swapaxes(sums, 0, 1).astype(dtype)
