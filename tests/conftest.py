"""Test configuration: float64 available, strict dtype promotion, rank promotion raises.

Warnings are errors (pyproject's filterwarnings). Tests that need float32 say so explicitly.
"""

import os

# The tests compile hundreds of small programs (each eager op with new shapes is one); XLA:CPU
# spends most of a small compile in LLVM's optimisation passes. At backend optimisation level
# 0 and without the fusion emitters, the suite takes ~380 s instead of ~600 s on 2 cores, and
# results agree with XLA's defaults to float rounding (every comparison between runs is made
# under the same flags). Set before JAX is imported, and inherited by the subprocesses the
# tests start; test_readme runs its end-to-end example under XLA's defaults, as a user would.
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
if TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()

import jax  # noqa: E402
import pytest  # noqa: E402

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
