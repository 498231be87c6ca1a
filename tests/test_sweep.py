"""Sweeps: invariance to chunking and device count, resume after SIGKILL, refusal to mix."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnn_jax import io, make_train, run_sweep
from rnn_jax._src.sweep import TABLE
from tests.sweep_config import TINY

ROOT = Path(__file__).resolve().parents[1]
N = 24


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _worker(out, n, chunk, *extra, devices=1, wait=True):
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
    )
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "sweep_worker.py"),
        str(out),
        str(n),
        str(chunk),
        *extra,
    ]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    assert "devices 1" in _worker(out, N, 8)
    return out


def test_chunk_size_and_device_count_do_not_change_any_seed(reference, tmp_path):
    want = _sha(reference / TABLE)
    assert "devices 1" in _worker(tmp_path / "c5", N, 5)
    assert _sha(tmp_path / "c5" / TABLE) == want
    assert "devices 4" in _worker(tmp_path / "d4", N, 8, devices=4)
    assert _sha(tmp_path / "d4" / TABLE) == want
    table = io.read_csv(reference / TABLE)
    np.testing.assert_array_equal(table["seed"], np.arange(N))


def test_resume_after_sigkill_equals_uninterrupted(reference, tmp_path):
    out = tmp_path / "killed"
    proc = _worker(out, N, 4, "--slow", wait=False)
    deadline = time.time() + 120
    while not (out / TABLE).exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = io.read_csv(out / TABLE)
    assert 0 < len(partial["seed"]) < N, "the kill should land mid-sweep"
    _worker(out, N, 4, "--resume")
    assert _sha(out / TABLE) == _sha(reference / TABLE)
    curves = io.read_npz(out / "curves.npz")
    np.testing.assert_array_equal(curves["seed"], np.arange(N))


def test_existing_out_dir_is_not_overwritten_and_config_must_match(tmp_path):
    train = make_train(TINY)
    kw = dict(chunk_size=4, out_dir=tmp_path, progress=False, microbatch=4)
    run_sweep(train, 4, **kw)
    before = _sha(tmp_path / TABLE)
    with pytest.raises(ValueError, match="already holds a sweep"):
        run_sweep(train, 4, **kw)
    with pytest.raises(ValueError, match="different configuration"):
        run_sweep(train, 4, hparams={"learning_rate": 0.1}, resume=True, **kw)
    assert _sha(tmp_path / TABLE) == before
    # resuming a finished sweep changes nothing
    r = run_sweep(train, 4, resume=True, **kw)
    assert _sha(tmp_path / TABLE) == before
    assert r.summary["seeds"] == 4


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_seeds=0), "n_seeds"),
        (dict(n_seeds=-5), "n_seeds"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(base_seed=-1), "base_seed"),
    ],
)
def test_bad_sweep_arguments(kwargs, match):
    args = dict(n_seeds=4, chunk_size=4)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        run_sweep(make_train(TINY), args.pop("n_seeds"), progress=False, **args)


def test_use_cpu_cores_exposes_devices_only_before_jax_starts():
    code = (
        "import jax; from rnn_jax import use_cpu_cores;"
        "first = use_cpu_cores(3); n = len(jax.devices()); again = use_cpu_cores(2);"
        "print(first, n, again)"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "3", "False"]
    import jax

    from rnn_jax import use_cpu_cores

    jax.devices()  # this process's backends are up: too late, nothing changes
    flags = os.environ.get("XLA_FLAGS")
    assert use_cpu_cores() is False and os.environ.get("XLA_FLAGS") == flags
