"""Gradient checks: central differences in float64 and relative errors."""

import jax.numpy as jnp
import numpy as np
import pytest

import rnn_jax as rj


def test_numerical_grad_of_a_polynomial_is_its_derivative():
    """f(x, y) = x**3 y + sin(y): the derivative written out by hand."""
    params = {"x": jnp.array([0.3, -1.2]), "y": jnp.array(0.7)}

    def f(p):
        return jnp.sum(p["x"] ** 3 * p["y"]) + jnp.sin(p["y"])

    g = rj.numerical_grad(f, params)
    x, y = np.array([0.3, -1.2]), 0.7
    np.testing.assert_allclose(g["x"], 3 * x**2 * y, rtol=1e-9)
    np.testing.assert_allclose(g["y"], np.sum(x**3) + np.cos(y), rtol=1e-9)


def test_relative_error_and_check_grad():
    a, b = jnp.array([1.0, 2.0, 0.0]), jnp.array([1.0, 2.2, 1e-20])
    assert float(rj.relative_error(a, b)) == pytest.approx(0.2 / 4.2)
    assert float(rj.relative_error(a, a)) == 0.0
    f = lambda p: jnp.sum(p**2)  # noqa: E731
    p = jnp.array([1.0, -2.0])
    assert rj.check_grad(f, p, 2 * p) < 1e-9
    with pytest.raises(AssertionError, match="gradient check failed"):
        rj.check_grad(f, p, 2.01 * p)
    with pytest.raises(ValueError, match="differ in size"):
        rj.relative_error(a, a[:2])


# (what, call, exception, the message must contain)
BAD_INPUTS = [
    (
        "gradcheck float32",
        lambda: rj.numerical_grad(jnp.sum, jnp.ones(3, jnp.float32)),
        TypeError,
        "float64",
    ),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
