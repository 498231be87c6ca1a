"""Argument checks: ranges, integers and keys, each named in a one-line message."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_jax._src import checks


@pytest.mark.parametrize("value,kw,ok", [
    (0.5, dict(low=0.0, high=1.0), True),
    (0.0, dict(low=0.0, low_open=True), False),
    (1.0, dict(high=1.0, high_open=True), False),
    (float("nan"), {}, False),
    (float("inf"), {}, False),
    (float("inf"), dict(allow_inf=True), True),
    (-1e-300, dict(low=0.0), False),
])  # fmt: skip
def test_check_range(value, kw, ok):
    if ok:
        checks.check_range("x", value, **kw)
    else:
        with pytest.raises(ValueError, match="x must be a finite number in"):
            checks.check_range("x", value, **kw)


def test_traced_values_are_checked_where_they_are_concrete():
    jax.jit(lambda v: checks.check_range("x", v, low=0.0) or v)(-1.0)  # traced: not checked
    with pytest.raises(TypeError, match="expected a number"):
        checks.check_range("x", object(), low=0.0)


def test_check_positive_int_and_key():
    assert checks.check_positive_int("n", np.int64(3)) == 3
    for bad, exc in [(0, ValueError), (True, TypeError), (2.0, TypeError)]:
        with pytest.raises(exc, match="n must be"):
            checks.check_positive_int("n", bad)
    checks.check_key("key", jax.random.key(0))
    checks.check_key("key", jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="key must be a jax.random key"):
        checks.check_key("key", jnp.zeros(2))
