"""The compilation cache: byte-identical results, switchable within a process, flags."""

import subprocess
import sys

import pytest

from tests.helpers import ROOT

_CACHED_RUN = """
import hashlib, sys, jax
from rnn_jax import make_train
from rnn_jax.runs import run_sweep, use_compilation_cache
from tests.sweep_config import TINY
use_compilation_cache(None if sys.argv[1] == "off" else sys.argv[1])
events = []
jax.monitoring.register_event_listener(lambda e, **k: events.append(e))
r = run_sweep(make_train(TINY), 8, chunk_size=8, microbatch=4, progress=False)
digest = hashlib.sha256(b"".join(r.table[c].tobytes() for c in sorted(r.table))).hexdigest()
print(digest, events.count("/jax/compilation_cache/cache_hits"))
"""


@pytest.mark.slow
def test_a_cached_executable_gives_byte_identical_results(tmp_path):
    """Without the cache, filling it, and loading from it: the same bytes every time."""

    def run(arg):
        r = subprocess.run([sys.executable, "-c", _CACHED_RUN, arg], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
        assert r.returncode == 0, r.stderr[-2000:]
        digest, hits = r.stdout.split()
        return digest, int(hits)

    cache = str(tmp_path / "cache")
    off, cold, warm = run("off"), run(cache), run(cache)
    assert off[1] == 0 and cold[1] == 0 and warm[1] >= 1, (off, cold, warm)
    assert off[0] == cold[0] == warm[0]
    assert any((tmp_path / "cache").iterdir())


_SWITCHED_CACHE = """
import sys, jax, jax.numpy as jnp
from rnn_jax.runs import use_compilation_cache
a, b = sys.argv[1:]
use_compilation_cache(a)
jax.jit(lambda x: jnp.sin(x) * 2)(jnp.ones(3))
use_compilation_cache(b)
jax.jit(lambda x: jnp.cos(x) * 3)(jnp.ones(3))
use_compilation_cache(None)
jax.jit(lambda x: jnp.tan(x) * 4)(jnp.ones(3))
"""


@pytest.mark.slow
def test_the_cache_folder_can_be_changed_and_turned_off_within_a_process(tmp_path):
    """JAX opens its cache once per process; a second call must still take effect."""
    a, b = tmp_path / "a", tmp_path / "b"
    r = subprocess.run([sys.executable, "-c", _SWITCHED_CACHE, str(a), str(b)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    entries = lambda folder: sorted(p.name for p in folder.glob("jit__lambda-*"))  # noqa: E731
    assert len(entries(a)) == 1 and len(entries(b)) == 1, (entries(a), entries(b))
    assert entries(a) != entries(b)


def test_scripts_take_cache_flags(tmp_path):
    from rnn_jax.runs.cli import CompileCache

    assert CompileCache(cache=False).folder() == (None, True)
    assert CompileCache(cache_dir=str(tmp_path)).folder() == (tmp_path, True)
    assert CompileCache().folder()[1] is False  # the default location: not named by the user
    with pytest.raises(ValueError, match="--cache-dir must name a folder"):
        CompileCache(cache_dir=" ").folder()
