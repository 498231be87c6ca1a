"""Several processes on one sweep, with real processes on localhost (gloo collectives);
CPU devices."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import jax
import pytest

from rnn_jax.runs import CURVES, TABLE
from tests.conftest import N_REFERENCE
from tests.helpers import HANG_S, ROOT, sha256_of, worker
from tests.sweep_config import TINY_FLAGS

#: End-to-end: scripts or several processes (deselect with -m 'not slow').
pytestmark = pytest.mark.slow


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes(
    out, n, chunk, *extra, count=2, ids=None, port=None, counts=None, per_process=None, join=None
):
    """Starts ``count`` workers joined by jax.distributed on localhost; returns the Popens.
    ``per_process`` maps a process index to more flags for it alone."""
    port = port or _free_port()
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=1"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", XLA_FLAGS=flags)
    if join is not None:  # otherwise the worker's own generous limit
        env["JOIN_TIMEOUT"] = str(join)
    procs = []
    for i in ids if ids is not None else range(count):
        c = counts[i] if counts else count
        cmd = [sys.executable, str(ROOT / "tests" / "sweep_worker.py"), str(out), str(n),
               str(chunk), *extra, *(per_process or {}).get(i, []),
               "--processes", f"localhost:{port}", str(c), str(i)]  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    return procs


def _finish(procs):
    """Each process's exit status, stdout and stderr, read while it runs (a full pipe cannot
    block it)."""
    results = []
    for p in procs:
        out, err = p.communicate(timeout=HANG_S)
        results.append((p.returncode, out, err))
    return results


def _open_when_paused(fifo, proc):
    """``fifo`` opened for writing, which returns once ``proc`` waits at its pause (it opens the
    reading end); if ``proc`` ends first, a thread waiting on it opens the reading end so that
    this fails instead of blocking for ever."""

    def unblock():
        proc.wait()
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))

    threading.Thread(target=unblock, daemon=True).start()
    release = open(fifo, "w")
    if proc.poll() is not None:
        release.close()
        raise AssertionError(f"process 0 ended before its pause: {proc.communicate()[1][-2000:]}")
    return release


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
        ("counts differ", "every process must be given the same --num-processes"),
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
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=HANG_S)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "3", "False"]

    from rnn_jax.runs import use_cpu_cores

    jax.devices()  # this process's backends are up: too late, nothing changes
    flags = os.environ.get("XLA_FLAGS")
    assert use_cpu_cores() is False and os.environ.get("XLA_FLAGS") == flags


def test_processes_given_different_settings_stop_before_any_work(tmp_path):
    """Library use: the sweep's own check (process 1 asks for other seeds)."""
    out = tmp_path / "differ"
    port = _free_port()
    a = _processes(out, 16, 8, ids=[0], port=port)
    b = _processes(out, 24, 8, ids=[1], port=port)
    for rc, _, err in _finish(a + b):
        assert rc == 2, err[-2000:]
        (line,) = _error_lines(err)
        assert "were given different settings for this sweep" in line and "n_seeds" in line, line
    assert not (out / "per_seed.csv").exists()


def _script(*argv, port, index, join=30):
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=1"
    cmd = [sys.executable, str(ROOT / "experiments" / "convergence_sweep.py"), *TINY_FLAGS,
           "--no-progress", *argv, "--coordinator", f"localhost:{port}", "--num-processes", "2",
           "--process-id", str(index), "--join-timeout", str(join)]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_script_given_other_settings_on_one_process_stops_every_process(tmp_path):
    port = _free_port()
    out = str(tmp_path / "x")
    procs = [_script("--seeds", "8", "--seed", "0", "--out", out, port=port, index=0),
             _script("--seeds", "8", "--seed", "1", "--out", out, port=port, index=1)]  # fmt: skip
    lines = []
    for rc, _, err in _finish(procs):
        assert rc == 2 and err.count("\n") == 1, err[-2000:]
        lines.append(err.strip())
    assert lines[0] == lines[1] and "differs from process 0 in args.seed" in lines[0]
    assert not (tmp_path / "x").exists()


def test_a_missing_process_stops_the_others_within_the_join_timeout(tmp_path):
    ((rc, _, err),) = _finish(_processes(tmp_path / "alone", 8, 8, ids=[0], join=2))
    assert rc == 2 and _error_lines(err) == [
        "error: only 1 of 2 processes joined within 2 s (missing: process 1); start every process"
    ], err[-2000:]
    ((rc, _, err),) = _finish(_processes(tmp_path / "alone", 8, 8, ids=[1], join=2))
    assert rc == 2 and "no run is waiting at localhost:" in err, err[-2000:]


def test_a_stray_process_of_another_run_cannot_harm_a_running_one(reference, tmp_path):
    fifo = tmp_path / "pause"
    os.mkfifo(fifo)
    port = _free_port()
    out = tmp_path / "run"
    procs = _processes(
        out, N_REFERENCE, 8, port=port, per_process={0: ["--pause-at", "8", str(fifo)]}
    )
    with _open_when_paused(fifo, procs[0]) as release:  # process 0 waits there, mid-run
        stray = _processes(tmp_path / "other", 8, 8, ids=[1], port=port, join=2)
        ((rc, _, err),) = _finish(stray)
        assert rc == 2 and "no run is waiting" in err, err[-2000:]
        release.write("go")
    for rc, _, err in _finish(procs):
        assert rc == 0, err[-2000:]
    assert sha256_of(out / TABLE) == sha256_of(reference / TABLE)


_NATIVE_ABORT = """
import os, sys
print("compiling something ...", file=sys.stderr, flush=True)
sys.stderr.write("E1201 12:00:00.000000 1 coordination_service.cc:1] task 1 is gone\\n")
sys.stderr.write("    @ 0x7f00  absl::LogMessage::Flush()\\n*** Check failure stack trace: ***\\n")
sys.stderr.flush()
os.abort()
"""


def test_a_native_abort_under_the_supervisor_is_one_line(tmp_path):
    child = tmp_path / "child.py"
    child.write_text(_NATIVE_ABORT)
    code = "import sys; from rnn_jax._src.runs.supervisor import supervise; "
    code += f"raise SystemExit(supervise([{str(child)!r}]))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_S,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))  # fmt: skip
    assert r.returncode == 3, r.stderr
    first, last = r.stderr.strip().splitlines()
    assert first == "compiling something ..."  # the script's own lines pass
    assert last.startswith("error: JAX's runtime stopped this process (SIGABRT)")
    report = last.split("(its log: ")[1].split(")")[0]
    assert "coordination_service.cc" in Path(report).read_text()
    os.unlink(report)
