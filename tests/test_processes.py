"""Several processes on one sweep, with real processes on localhost (gloo collectives);
CPU devices."""

import json
import os
import signal
import subprocess
import sys

import jax
import pytest

from rnn_jax.runs import CURVES, TABLE
from tests.conftest import N_REFERENCE
from tests.helpers import ROOT, sha256_of, worker

#: End-to-end: scripts or several processes (deselect with -m 'not slow').
pytestmark = pytest.mark.slow


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes(out, n, chunk, *extra, count=2, ids=None, port=None, counts=None, per_process=None):
    """Starts ``count`` workers joined by jax.distributed on localhost; returns the Popens.
    ``per_process`` maps a process index to more flags for it alone."""
    port = port or _free_port()
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=1"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", XLA_FLAGS=flags)
    procs = []
    for i in ids if ids is not None else range(count):
        c = counts[i] if counts else count
        cmd = [sys.executable, str(ROOT / "tests" / "sweep_worker.py"), str(out), str(n),
               str(chunk), *extra, *(per_process or {}).get(i, []),
               "--processes", f"localhost:{port}", str(c), str(i)]  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    return procs


def _finish(procs, timeout=120):
    return [(p.wait(timeout), *p.communicate()) for p in procs]


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("error:")]


def test_two_processes_write_the_single_process_table(reference, tmp_path):
    """jax.distributed over 2 processes x 1 CPU device on localhost (gloo collectives)."""
    two = tmp_path / "two"
    for rc, out, err in _finish(_processes(two, 16, 8)):
        assert rc == 0 and "processes 2" in out, err[-2000:]
    want = (reference / TABLE).read_text().splitlines()
    assert (two / TABLE).read_text().splitlines() == want[:17]  # header + 16 seeds
    # the run continues on one process: the process count is not part of its identity
    assert "processes 1" in worker(two, N_REFERENCE, 8)
    assert sha256_of(two / TABLE) == sha256_of(reference / TABLE)
    assert (two / CURVES).read_bytes() == (reference / CURVES).read_bytes()


def test_a_killed_process_stops_the_run_and_resume_completes_it(reference, tmp_path):
    out = tmp_path / "killed"
    # process 1 kills itself right after the first chunk (8 seeds) is gathered and saved
    procs = _processes(out, N_REFERENCE, 8, per_process={1: ["--signal-at", "8", "KILL"]})
    (rc1, _, _), (rc, _, err) = _finish(procs[1:])[0], _finish(procs[:1])[0]
    assert rc1 == -signal.SIGKILL
    assert rc == 3, err[-2000:]
    (line,) = _error_lines(err)
    assert "another process of this run stopped" in line and "same command" in line
    assert json.loads((out / "manifest.json").read_text())["seeds"] == 8
    assert "8 seeds saved" in line, line
    # every process resumes from what process 0 read (the others read no file)
    for rc, _, err in _finish(_processes(out, N_REFERENCE, 8)):
        assert rc == 0, err[-2000:]
    assert sha256_of(out / TABLE) == sha256_of(reference / TABLE)


@pytest.mark.parametrize(
    "how,match",
    [
        ("id out of range", "--process-id must be in [0, 2)"),
        ("bad address", "--coordinator must be HOST:PORT"),
        ("port in use", "is in use on this host"),
        ("counts differ", "were given different --num-processes"),
    ],
)
def test_bad_multi_process_input_is_one_line_and_writes_nothing(tmp_path, how, match):
    out = tmp_path / "bad"
    if how == "id out of range":
        results = _finish(_processes(out, 8, 8, ids=[2]))
    elif how == "bad address":
        results = _finish(_processes(out, 8, 8, ids=[0], port="99999"))
    elif how == "port in use":
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            results = _finish(_processes(out, 8, 8, ids=[0], port=s.getsockname()[1]))
    else:
        results = _finish(_processes(out, 8, 8, counts={0: 2, 1: 3}))
    for rc, _, err in results:
        assert rc == 2, err[-2000:]
        (line,) = _error_lines(err)
        assert match in line, line
    assert not out.exists()


def test_use_cpu_cores_exposes_devices_only_before_jax_starts():
    code = (
        "import jax; from rnn_jax.runs import use_cpu_cores;"
        "first = use_cpu_cores(3); n = len(jax.devices()); again = use_cpu_cores(2);"
        "print(first, n, again)"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "3", "False"]

    from rnn_jax.runs import use_cpu_cores

    jax.devices()  # this process's backends are up: too late, nothing changes
    flags = os.environ.get("XLA_FLAGS")
    assert use_cpu_cores() is False and os.environ.get("XLA_FLAGS") == flags
