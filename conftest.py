"""Doctests run as a user would run the examples: JAX's default precision and promotion
(``tests/conftest.py`` makes the test suite's own settings stricter).

The tests compile with XLA's backend (LLVM) optimizations off
(``--xla_backend_optimization_level=0`` in ``XLA_FLAGS``, inherited by the scripts the tests
start): compiling is most of the suite's time and this cuts it by about a third; what the tests
check (gradients, optimizer steps, bit-identity between runs) does not depend on it. The
scripts, the benchmark and the README's numbers use XLA's defaults.

Every process of a test run (pytest-xdist workers and the scripts the tests start) shares one
persistent compilation cache, a fresh folder per run (``RNN_JAX_CACHE_DIR``, read by the
scripts), removed at the end: a program compiled by one is loaded by the others. A cached
executable gives the same bytes as a fresh compile (``tests/test_sweep.py`` checks it).
"""

import os
import shutil
import tempfile
from pathlib import Path

import jax
import pytest
from _pytest.doctest import DoctestItem

from rnn_jax.runs import CACHE_ENV, use_compilation_cache

_FAST_COMPILE = "--xla_backend_optimization_level=0"
if _FAST_COMPILE not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FAST_COMPILE}".strip()

_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
_CACHE = Path(tempfile.gettempdir()) / f"rnn_jax-test-cache-{_RUN}"
os.environ[CACHE_ENV] = str(_CACHE)
use_compilation_cache(_CACHE)


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):  # the controller (or a run without workers)
        shutil.rmtree(_CACHE, ignore_errors=True)


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
