"""Argument checks shared by the public functions.

Shape checks run at trace time (shapes are static under ``jit``), so they cost nothing in a
compiled loop. Every message names the argument, what was expected and what came.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np


def shape_of(x) -> tuple[int, ...]:
    return tuple(np.shape(x))


def check_rank(name: str, x, rank: int, layout: str) -> None:
    if np.ndim(x) != rank:
        raise ValueError(f"{name} must have rank {rank} {layout}, got shape {shape_of(x)}")


def check_dim(name: str, x, axis: int, size: int, what: str) -> None:
    got = shape_of(x)[axis]
    if got != size:
        raise ValueError(
            f"{name} has {got} along axis {axis} but {what} is {size} (shape {shape_of(x)})"
        )


def check_positive_int(name: str, value, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def concrete(value):
    """The Python float of ``value``, or ``None`` when it is traced (then it is not checked)."""
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        arr = np.asarray(value)
        if arr.size != 1:
            return None
        return float(arr.reshape(()))
    except (TypeError, ValueError):  # anything that is not a number
        raise TypeError(f"expected a number, got {type(value).__name__} {value!r}") from None


def check_range(
    name: str, value, *, low=None, high=None, low_open=False, high_open=False, allow_inf=False
) -> None:
    """Checks ``low <(=) value <(=) high`` when ``value`` is concrete; NaN is always rejected,
    and infinities unless ``allow_inf``."""
    if callable(value):  # a schedule: checked where it is evaluated
        return
    v = concrete(value)
    if v is None:
        return
    lo_bracket = "(" if low_open else "["
    hi_bracket = ")" if high_open else "]"
    interval = f"{lo_bracket}{'-inf' if low is None else low}, {'inf' if high is None else high}"
    interval += hi_bracket
    bad = math.isnan(v) or (math.isinf(v) and not allow_inf)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        raise ValueError(f"{name} must be a finite number in {interval}, got {v}")


def check_key(name: str, key) -> None:
    """A PRNG key: a typed key array or a raw ``uint32[2]`` one."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return
    if (
        isinstance(key, jax.Array | np.ndarray)
        and key.dtype == np.uint32
        and key.shape[-1:] == (2,)
    ):
        return
    raise TypeError(
        f"{name} must be a jax.random key (jax.random.key(seed) or PRNGKey(seed)), got "
        f"{type(key).__name__} with shape {shape_of(key)}"
    )
