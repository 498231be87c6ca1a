"""Gradient checks: central differences in float64 and relative errors."""

import jax.numpy as jnp
import pytest

import rnn_jax as rj

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
