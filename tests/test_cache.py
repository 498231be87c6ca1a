"""The compilation cache: byte-identical results, switchable within a process, flags."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnn_jax as rj
from rnn_jax import runs
from rnn_jax.runs import CACHE_ENV
from tests.helpers import HANG_S, ROOT
from tests.sweep_config import TINY, TINY_FLAGS

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
                           capture_output=True, text=True, timeout=HANG_S)  # fmt: skip
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
                       capture_output=True, text=True, timeout=HANG_S)  # fmt: skip
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


def _flip(path: Path, where: int) -> None:
    data = bytearray(path.read_bytes())
    data[where] ^= 0x01
    path.write_bytes(bytes(data))


def _sweep(train, cache):
    return runs.run_sweep(train, 8, chunk_size=8, microbatch=4, progress=False, cache=cache)


def _same(a, b) -> bool:
    return all(np.array_equal(a.table[c], b.table[c]) for c in a.table)


_RERUN = """
import dataclasses, hashlib, sys, jax
from rnn_jax import make_train, runs
from rnn_jax.runs import use_compilation_cache
from tests.helpers import CompileCounter
from tests.sweep_config import TINY
use_compilation_cache(None)  # only the verified cache of compiled sweeps
train = make_train(dataclasses.replace(TINY, hidden=int(sys.argv[2])))
with CompileCounter() as compiles:
    r = runs.run_sweep(train, 8, chunk_size=8, microbatch=4, progress=False,
                       cache=runs.ExecutableCache(sys.argv[1]))
digest = hashlib.sha256(b"".join(r.table[c].tobytes() for c in sorted(r.table))).hexdigest()
print(digest, compiles.names.count("local"))
"""


def _rerun(folder, hidden=3):
    r = subprocess.run([sys.executable, "-c", _RERUN, str(folder), str(hidden)], cwd=ROOT,
                       capture_output=True, text=True, timeout=HANG_S,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    digest, compiled = r.stdout.split()
    return digest, int(compiled), r.stderr


@pytest.mark.slow
def test_compiled_sweeps_are_verified_before_they_are_loaded(tmp_path):
    """Each run a process of its own, as reruns are: a warm rerun loads instead of tracing
    and compiling, and a damaged entry is discarded with one warning, never run."""
    cold = _rerun(tmp_path)
    (entry,) = list((tmp_path / "executables").iterdir())
    warm = _rerun(tmp_path)
    assert cold[1] == 1 and warm[1] == 0 and cold[0] == warm[0], (cold, warm)
    other = tmp_path / "other"
    _rerun(other, hidden=4)
    (copied,) = list((other / "executables").iterdir())
    damages = {
        "flip a byte of the program": lambda: _flip(entry, entry.stat().st_size // 2),
        "truncate": lambda: entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 3]),
        "copy another configuration's entry over it": lambda: shutil.copyfile(copied, entry),
    }
    for damage, do in damages.items():
        do()
        digest, compiled, err = _rerun(tmp_path)
        assert "warning: discarded a damaged compiled program" in err, damage
        assert compiled == 1 and digest == cold[0], damage
        assert _rerun(tmp_path)[:2] == (cold[0], 0), damage  # stored whole again


def test_a_task_that_cannot_be_fingerprinted_is_never_cached(tmp_path):
    cache = runs.ExecutableCache(tmp_path)
    train = rj.make_train(TINY)
    opaque = train.task._replace(name="opaque", accuracy=_Opaque(train.task.accuracy))
    config = rj.TrainConfig(task=opaque, batch_size=50, epochs=2, eval_every=4)
    _sweep(rj.make_train(config), cache)
    assert not (tmp_path / "executables").exists()


class _Opaque:
    """A callable with state of its own: nothing a fingerprint can describe by value."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)


def test_an_unusable_default_cache_location_turns_the_cache_off_with_a_warning(tmp_path):
    (tmp_path / "home").write_text("a file, not a folder")
    env = {k: v for k, v in os.environ.items() if k not in (CACHE_ENV, "XDG_CACHE_HOME")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    env["MPLCONFIGDIR"] = str(tmp_path)  # matplotlib would complain about that cache home too
    cmd = [sys.executable, str(ROOT / "experiments" / "convergence_sweep.py"), *TINY_FLAGS,
           "--seeds", "4", "--no-progress", "--out", str(tmp_path / "run")]  # fmt: skip
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=HANG_S)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.startswith("warning: the compilation cache is off:"), r.stderr
    r = subprocess.run([*cmd[:-1], str(tmp_path / "r2"), "--cache-dir", str(tmp_path / "home")],
                       env=env, capture_output=True, text=True, timeout=HANG_S)  # fmt: skip
    assert r.returncode == 2 and "--cache-dir" in r.stderr and "is not a folder" in r.stderr
