"""The literal NumPy transcriptions other tests use as oracles, checked by hand on tiny inputs."""

import numpy as np

from rnn_jax import reference


def test_seed000_forward_and_backward_by_hand():
    X = np.array([[1.0, 0.0, 1.0]])
    S = reference.seed000_forward_states(X, 2.0, 0.5)
    np.testing.assert_allclose(S, [[0.0, 2.0, 1.0, 2.5]])  # s_k = 2 x_k + 0.5 s_{k-1}
    (g_x, g_rec), over_time = reference.seed000_backward_gradient(X, S, np.array([1.0]), 0.5)
    # d s_3 / d w_x = x_3 + 0.5 x_2 + 0.25 x_1; d s_3 / d w_rec = s_2 + 0.5 s_1 + 0.25 s_0
    assert (g_x, g_rec) == (1.25, 2.0)
    np.testing.assert_allclose(over_time, [[0.125, 0.25, 0.5, 1.0]])


def test_seed002_encoding_is_least_significant_bit_first():
    X, T = reference.seed002_encode(np.array([5]), np.array([3]), bits=3)
    np.testing.assert_array_equal(X[0], [[1, 1], [0, 1], [1, 0], [0, 0]])  # 5 = 101, 3 = 011
    np.testing.assert_array_equal(T[0, :, 0], [0, 0, 0, 1])  # 8 = 1000


def test_seed002_init_is_glorot_with_zero_biases():
    P = reference.seed002_init(np.random.default_rng(0), hidden=3)
    assert list(P) == list(reference.PARAM_ORDER)
    assert np.all(np.abs(P["w_rec"]) <= np.sqrt(6 / 6)) and not np.any(P["b_rec"])
    assert P["w_in"].shape == (2, 3) and P["w_out"].shape == (3, 1)
