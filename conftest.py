"""Doctests run as a user would run the examples: JAX's default precision and promotion
(``tests/conftest.py`` makes the test suite's own settings stricter).

The tests compile under :data:`TEST_XLA_FLAGS` (XLA's backend optimizations off); the scripts,
the benchmark and the numbers in the docs use XLA's defaults.

Every process of a test run (pytest-xdist workers and the scripts the tests start) shares one
persistent compilation cache, a fresh folder per run (``RNN_JAX_CACHE_DIR``, read by the
scripts), removed at the end: a program compiled by one is loaded by the others. A cached
executable gives the same bytes as a fresh compile (``tests/test_cache.py`` checks it).
"""

import os
import shutil
import tempfile
from pathlib import Path

#: The XLA flags every test process compiles with (set here once, before JAX starts; inherited
#: by the scripts the tests start): hundreds of small programs compile, and XLA:CPU spends most
#: of a small compile in LLVM's optimisation passes. What the tests check (gradients, optimizer
#: steps, bit-identity between runs made under the same flags) does not depend on them;
#: test_readme runs the README's example under XLA's defaults, as a user would. One flag only:
#: with ``--xla_cpu_use_fusion_emitters=false`` added, XLA:CPU (jaxlib 0.10.2) rounds a chunk of
#: one microbatch differently from a chunk of several, so results would depend on chunking under
#: the tests' flags although they do not under XLA's defaults (tests/test_runner.py's resume
#: after SIGKILL, chunk 4 against chunk 8, caught it).
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"
if TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()

import jax  # noqa: E402
import pytest  # noqa: E402
from _pytest.doctest import DoctestItem  # noqa: E402

from rnn_jax.runs import CACHE_ENV, use_compilation_cache  # noqa: E402

#: The variable naming the test run's cache folder: set by the process that creates the folder
#: (pytest's controller, or the only process of a run without workers), inherited by the
#: workers it starts and the scripts they start; only its creator removes the folder.
_SHARED_CACHE = "RNN_JAX_TEST_CACHE"
_OWNER = _SHARED_CACHE not in os.environ
if _OWNER:
    os.environ[_SHARED_CACHE] = tempfile.mkdtemp(prefix="rnn_jax-test-cache-")
_CACHE = Path(os.environ[_SHARED_CACHE])
os.environ[CACHE_ENV] = str(_CACHE)
use_compilation_cache(_CACHE)


def pytest_unconfigure(config):
    if _OWNER:
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
