"""Test configuration: float64 available, strict dtype promotion, rank promotion raises.

Warnings are errors (pyproject's filterwarnings). Tests that need float32 say so explicitly.
"""

import jax
import pytest

# Scripts run in subprocesses by the tests, not test modules (nor doctest sources).
collect_ignore = ["sweep_worker.py"]

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(0)
