"""Datasets: encodings, targets, shapes."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_jax import datasets

KEY = jax.random.key(0)


def test_seed000_data_is_the_printed_one():
    chex.assert_shape(datasets.SEED000_X, (20, 10))
    np.testing.assert_array_equal(
        datasets.SEED000_T, [2, 4, 6, 6, 4, 4, 6, 5, 7, 5, 7, 6, 4, 7, 3, 6, 4, 5, 6, 6]
    )


def test_counting_ones(key):
    xs, t = datasets.counting_ones_data(key, 50, 12)
    chex.assert_shape(xs, (50, 12))
    assert set(np.unique(np.asarray(xs))) <= {0.0, 1.0}
    chex.assert_trees_all_close(t, xs.sum(1))


@pytest.mark.parametrize("memory", [False, True])
def test_next_number(memory, key):
    x, y = datasets.next_number_data(key, 20, 9, 3, memory=memory)
    x, y = np.asarray(x), np.asarray(y)
    prev = np.concatenate([np.zeros((20, 1), int), x[:, :-1]], 1) if memory else 1
    np.testing.assert_array_equal(y, (x + prev) % 3)


def test_binary_addition_sums_are_right(key):
    xs, t = datasets.binary_addition_data(key, 300, bits=6)
    chex.assert_shape(xs, (300, 7, 2))
    chex.assert_shape(t, (300, 7))
    a, b = datasets.from_bits(xs[..., 0]), datasets.from_bits(xs[..., 1])
    assert int(a.max()) < 64 and int(b.max()) < 64
    np.testing.assert_array_equal(datasets.from_bits(t), a + b)
    np.testing.assert_array_equal(xs[:, -1], 0)  # the padding step


def test_seed002_layout_example():
    # Seed 002 prints x1 = 37 as "1010010" (least-significant bit first).
    np.testing.assert_array_equal(datasets.to_bits(jnp.int32(37), 7), [1, 0, 1, 0, 0, 1, 0])


def test_all_pairs():
    xs, t = datasets.all_addition_pairs(6)
    chex.assert_shape(xs, (4096, 7, 2))
    sums = np.asarray(datasets.from_bits(t))
    assert sorted(set(sums)) == list(range(127))


@pytest.mark.parametrize("bits", [0, 31, 2.0])
def test_bits_validated(bits, key):
    with pytest.raises((ValueError, TypeError), match="bits"):
        datasets.binary_addition_data(key, 10, bits=bits)


def test_key_validated():
    with pytest.raises(TypeError, match="key"):
        datasets.binary_addition_data(123, 10)


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_addition_prefix_tree_is_every_pair_once(bits):
    """Walking each leaf's path through the tree gives exactly its pair's input and sum bits."""
    inputs, targets = datasets.addition_prefix_tree(bits)
    assert len(inputs) == len(targets) == bits + 1
    leaves = np.arange(4**bits)
    # Leaf n's digits (base 4, step 0 most significant) are its input pairs.
    digits = [(leaves >> (2 * (bits - 1 - k))) & 3 for k in range(bits)]
    a = sum((d >> 1) << k for k, d in enumerate(digits))
    b = sum((d & 1) << k for k, d in enumerate(digits))
    assert sorted(zip(a.tolist(), b.tolist())) == [
        (i, j) for i in range(2**bits) for j in range(2**bits)
    ]
    sum_bits = np.asarray(datasets.to_bits(jnp.asarray(a + b), bits + 1))
    for k in range(bits + 1):
        node = leaves >> (2 * (bits - 1 - k)) if k < bits else leaves
        chex.assert_shape(inputs[k], (2, 4 ** min(k + 1, bits)))
        pair = np.stack([(digits[k] >> 1), digits[k] & 1]) if k < bits else 0 * inputs[k][:, node]
        np.testing.assert_array_equal(np.asarray(inputs[k])[:, node], pair)
        np.testing.assert_array_equal(np.asarray(targets[k])[node], sum_bits[:, k])


def test_addition_prefix_tree_validates_bits():
    with pytest.raises(ValueError, match="bits"):
        datasets.addition_prefix_tree(11)


def test_delayed_recall_targets_are_the_bits_seen_delay_steps_before(key):
    xs, ts = datasets.delayed_recall_data(key, 40, length=7, delay=2)
    chex.assert_shape((xs, ts), [(40, 7, 1), (40, 7)])
    x = np.asarray(xs)[..., 0]
    for t in range(2, 7):
        np.testing.assert_array_equal(ts[:, t], x[:, t - 2])
    xs, ts = datasets.all_delayed_recall(length=5, delay=3)
    rows = {tuple(r) for r in np.asarray(xs)[..., 0].astype(int)}
    assert len(rows) == 32 and all(set(r) <= {0, 1} for r in rows)  # every sequence once
    np.testing.assert_array_equal(ts[:, 3:], np.asarray(xs)[:, :2, 0])


# (what, call, exception, the message must contain)
BAD_INPUTS = [
    ("key not a key", lambda: datasets.binary_addition_data(42, 10), TypeError, "key must be"),
    ("bits too large", lambda: datasets.binary_addition_data(KEY, 10, bits=31), ValueError, "bits"),
    ("all pairs too many", lambda: datasets.all_addition_pairs(11), ValueError, "bits"),
    ("n = 0", lambda: datasets.counting_ones_data(KEY, 0, 10), ValueError, "n must be"),
    (
        "delay >= length",
        lambda: datasets.delayed_recall_data(KEY, 4, 3, 3),
        ValueError,
        "must be below length",
    ),
    ("recall too many", lambda: datasets.all_delayed_recall(21), ValueError, "at most 20"),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
