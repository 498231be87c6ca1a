"""Small helpers shared by the tests."""

import hashlib
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

import rnn_jax as rj


def random_params(cell, key, in_size, hidden, dtype=jnp.float64, scale=0.3):
    """Cell parameters with every leaf (biases too) random, so no gradient is trivially zero."""
    k_init, k_noise = jax.random.split(key)
    params = cell.init(k_init, in_size, hidden, dtype)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(k_noise, len(leaves))
    leaves = [p + scale * jax.random.normal(k, p.shape, p.dtype) for p, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, leaves)


def random_carry(cell, key, hidden, batch=None, dtype=jnp.float64):
    shape = (hidden,) if batch is None else (batch, hidden)
    leaves, treedef = jax.tree.flatten(cell.zero_carry(hidden, dtype))
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(treedef, [jax.random.normal(k, shape, dtype) for k in keys])


def prefix_mask(lengths, steps):
    return jnp.arange(steps)[None, :] < jnp.asarray(lengths)[:, None]


def max_rel_err(a, b):
    return float(rj.relative_error(a, b))


class _NameHandler(logging.Handler):
    def __init__(self, names):
        super().__init__(logging.DEBUG)
        self.names = names

    def emit(self, record):
        m = re.match(r"Compiling jit\((\w+)\)", record.getMessage())
        if m:
            self.names.append(m.group(1))


class CompileCounter:
    """Counts executables built while active (``jax.monitoring`` events): XLA backend
    compilations plus loads from the persistent compilation cache (the test suite shares one
    across its workers, so a program compiled elsewhere is loaded, not compiled). ``compiled``
    and ``loaded`` count each kind."""

    _active: list = []

    def __init__(self):
        self.compiled = 0
        self.loaded = 0
        self.names: list[str] = []  # the jitted functions built, e.g. "local" (a Sweep's)
        self._handler = _NameHandler(self.names)
        self._log_compiles = None

    @property
    def count(self) -> int:
        return self.compiled + self.loaded

    def __enter__(self):
        CompileCounter._active.append(self)
        self._log_compiles = jax.log_compiles(True)
        self._log_compiles.__enter__()
        logging.getLogger("jax._src.interpreters.pxla").addHandler(self._handler)
        return self

    def __exit__(self, *exc):
        CompileCounter._active.remove(self)
        logging.getLogger("jax._src.interpreters.pxla").removeHandler(self._handler)
        self._log_compiles.__exit__(*exc)

    @staticmethod
    def _listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            for counter in CompileCounter._active:
                counter.compiled += 1

    @staticmethod
    def _listen_hits(event, **kwargs):
        if event == "/jax/compilation_cache/cache_hits":
            for counter in CompileCounter._active:
                counter.loaded += 1


jax.monitoring.register_event_duration_secs_listener(CompileCounter._listen)
jax.monitoring.register_event_listener(CompileCounter._listen_hits)


# ---------------------------------------------------------------- subprocesses and sweeps

ROOT = Path(__file__).resolve().parents[1]

#: Seconds a test waits for a process it started before calling it hung. A guard only, never
#: what a test checks: far above any script's time on a slow machine under load (the longest,
#: the benchmark's tiny run, takes under a minute on a quiet 2-core machine).
HANG_S = 1800


def sha256_of(path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_worker(out, n, chunk, *extra, devices=1) -> subprocess.CompletedProcess:
    """``tests/sweep_worker.py`` in a subprocess on ``devices`` CPU devices."""
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} "
        f"--xla_force_host_platform_device_count={devices}",
    )
    cmd = [sys.executable, str(ROOT / "tests" / "sweep_worker.py"), str(out), str(n), str(chunk)]
    return subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True, timeout=HANG_S)


def worker(out, n, chunk, *extra, devices=1) -> str:
    """:func:`run_worker`, which must succeed; returns its stdout."""
    r = run_worker(out, n, chunk, *extra, devices=devices)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def tiny_sweep(out, n=8, **kw):
    """A sweep of the tiny configuration into ``out`` (chunks of 4, microbatch 4)."""
    from rnn_jax import make_train
    from rnn_jax.runs import run_sweep
    from tests.sweep_config import TINY

    return run_sweep(
        make_train(TINY), n, chunk_size=4, microbatch=4, out_dir=out, progress=False, **kw
    )
