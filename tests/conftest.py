"""Test configuration: float64 available, strict dtype promotion, rank promotion raises.

Warnings are errors (pyproject's filterwarnings). Tests that need float32 say so explicitly.
"""

import importlib

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

# Full unrolling of short time scans is a speed choice (same numbers); it multiplies compile
# time, which dominates this suite. Tests run rolled scans except where they ask otherwise.
importlib.import_module("rnn_jax.unroll").UNROLL = 1


@pytest.fixture
def key():
    return jax.random.key(0)
