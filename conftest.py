"""Doctests run as a user would run the examples: JAX's default precision and promotion
(``tests/conftest.py`` makes the test suite's own settings stricter)."""

import jax
import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _user_defaults_for_doctests(request):
    if not isinstance(request.node, DoctestItem):
        yield
        return
    with (
        jax.enable_x64(False),
        jax.numpy_dtype_promotion("standard"),
        jax.numpy_rank_promotion("allow"),
    ):
        yield
