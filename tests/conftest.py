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


#: Seeds of the reference sweep that the subprocess tests compare with.
N_REFERENCE = 24


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """The tiny configuration's sweep of :data:`N_REFERENCE` seeds in one uninterrupted
    process on one device, chunks of 8: what every other layout must reproduce."""
    from tests.helpers import worker

    out = tmp_path_factory.mktemp("ref")
    assert "devices 1" in worker(out, N_REFERENCE, 8)
    return out
