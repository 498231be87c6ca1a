"""Sweeps: invariance to chunking and device count, resume after SIGKILL or an interrupt,
real float64, validated resume, bounds on seeds and hyperparameters."""

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_jax import io, make_train, run_sweep
from rnn_jax._src.sweep import CURVES, TABLE
from tests.sweep_config import TINY

ROOT = Path(__file__).resolve().parents[1]
N = 24


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _run_worker(out, n, chunk, *extra, devices=1) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} "
        f"--xla_force_host_platform_device_count={devices}",
    )
    cmd = [sys.executable, str(ROOT / "tests" / "sweep_worker.py"), str(out), str(n), str(chunk)]
    return subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True, timeout=300)


def _worker(out, n, chunk, *extra, devices=1) -> str:
    r = _run_worker(out, n, chunk, *extra, devices=devices)
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
    r = _run_worker(out, N, 4, "--signal-at", "12", "KILL")  # killed right after 3 chunks
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    partial = io.read_csv(out / TABLE)
    np.testing.assert_array_equal(partial["seed"], np.arange(12))
    _worker(out, N, 4, "--resume")
    assert _sha(out / TABLE) == _sha(reference / TABLE)
    curves = io.read_npz(out / "curves.npz")
    np.testing.assert_array_equal(curves["seed"], np.arange(N))


def test_existing_out_dir_is_not_overwritten_and_config_must_match(tmp_path):
    train = make_train(TINY)
    kw = dict(chunk_size=4, out_dir=tmp_path, progress=False, microbatch=4)
    run_sweep(train, 4, **kw)
    before = _sha(tmp_path / TABLE)
    with pytest.raises(ValueError, match="already holds a run"):
        run_sweep(train, 4, **kw)
    with pytest.raises(ValueError, match="another identity"):
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


# ------------------------------------------------------------------ precision


def test_float64_really_runs_in_float64_and_is_refused_without_x64():
    train = make_train(dataclasses.replace(TINY, dtype="float64"))
    key = jax.random.key(0)
    with train.precision():
        assert jax.eval_shape(train, key).params.w_rec.dtype == jnp.float64
    with jax.enable_x64(False), pytest.raises(RuntimeError, match="jax_enable_x64 is off"):
        train(key)
    f64 = run_sweep(train, 8, progress=False, microbatch=4)
    f32 = run_sweep(make_train(TINY), 8, progress=False, microbatch=4)
    assert not np.array_equal(f64.table["final_loss"], f32.table["final_loss"])
    # float64 numbers carry more digits than float32 can hold; float32 ones do not
    loss64, loss32 = np.asarray(f64.table["final_loss"]), np.asarray(f32.table["final_loss"])
    assert np.all(loss64.astype(np.float32).astype(np.float64) != loss64)
    assert np.all(loss32.astype(np.float32).astype(np.float64) == loss32)


def test_a_float32_sweep_does_not_depend_on_the_global_x64_setting():
    train = make_train(TINY)
    with jax.enable_x64(True):
        on = run_sweep(train, 8, progress=False, microbatch=4)
    with jax.enable_x64(False):
        off = run_sweep(train, 8, progress=False, microbatch=4)
    for c in on.table:
        np.testing.assert_array_equal(on.table[c], off.table[c])


def test_importing_the_scripts_changes_no_global_jax_state():
    code = (
        "import importlib.util, pathlib, sys, jax\n"
        "before = (jax.config.jax_enable_x64, jax.config.jax_numpy_dtype_promotion)\n"
        "for p in sorted(pathlib.Path('experiments').glob('*.py')):\n"
        "    spec = importlib.util.spec_from_file_location(p.stem, p)\n"
        "    module = sys.modules[p.stem] = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "after = (jax.config.jax_enable_x64, jax.config.jax_numpy_dtype_promotion)\n"
        "print(before == after, after)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("True (False,") and "standard" in r.stdout, r.stdout


def test_study_and_convergence_sweep_write_the_same_table(tmp_path):
    """The same configuration and seeds through both entry points: byte-identical tables."""
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, *a, "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    s = run("experiments/study.py", "--skip-reproductions", "--optimizers", "adam", "--seeds",
            "64", "--out", str(tmp_path / "study"))  # fmt: skip
    c = run("experiments/convergence_sweep.py", "--optimizer", "adam", "--seeds", "64",
            "--seed", "1", "--eval-every", "5", "--out", str(tmp_path / "cs"))  # fmt: skip
    assert s.returncode == 0 and c.returncode == 0, s.stderr[-2000:] + c.stderr[-2000:]
    study_table = (tmp_path / "study" / "sweeps" / "adam" / TABLE).read_bytes()
    assert study_table == (tmp_path / "cs" / TABLE).read_bytes()


# ------------------------------------------------------------------ resume


def _tiny_sweep(out, n=8, **kw):
    return run_sweep(
        make_train(TINY), n, chunk_size=4, microbatch=4, out_dir=out, progress=False, **kw
    )


def test_growing_the_seeds_on_resume_keeps_the_first_ones(tmp_path):
    _tiny_sweep(tmp_path / "grow", 8)
    first = (tmp_path / "grow" / TABLE).read_text().splitlines()
    _tiny_sweep(tmp_path / "grow", 16, resume=True)
    _tiny_sweep(tmp_path / "once", 16)
    grown = (tmp_path / "grow" / TABLE).read_bytes()
    assert grown == (tmp_path / "once" / TABLE).read_bytes()
    assert grown.decode().splitlines()[: len(first)] == first
    with pytest.raises(ValueError, match="holds 16 seeds; n_seeds 8 asks for fewer"):
        _tiny_sweep(tmp_path / "grow", 8, resume=True)


def _rewrite(out, name, data: bytes):
    """Replaces a file *and* its recorded checksum: only the table's own checks can tell."""
    (out / name).write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))


def _edit_table(column, value, row=0):
    def edit(out):
        table = io.read_csv(out / TABLE)
        table[column] = table[column].astype(object)
        table[column][row] = value
        _rewrite(out, TABLE, io.csv_bytes(table))

    return edit


def _npz(**arrays):
    return lambda out: _rewrite(out, CURVES, io.npz_bytes(**arrays))


def _huge_header(out):
    """A curves.npz whose header declares ~10**18 floats: refused before any allocation."""
    import io as stdio
    import zipfile

    buf = stdio.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for key, shape in [("seed", (8,)), ("update", (2,)), ("loss", (999999999, 999999999)),
                           ("accuracy", (8, 2))]:  # fmt: skip
            npy = stdio.BytesIO()
            header = {"descr": "<f8", "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(npy, header)
            z.writestr(key + ".npy", npy.getvalue())  # a header and no data
    _rewrite(out, CURVES, buf.getvalue())


EDITS = [
    ("no config", lambda out: (out / "config.json").unlink(), "without a config.json"),
    ("edited, checksum", lambda out: (out / TABLE).write_text("x"), "does not match the checksum"),
    ("accuracy 7.5", _edit_table("accuracy", 7.5), "'accuracy' must be in \\[0, 1\\]"),
    (
        "converged and diverged",
        _edit_table("diverged", 1),
        "must be 0 where diverged is 1|>= 0 exactly",
    ),
    ("converged 0 -> 1", _edit_table("converged", 1, row=1), "consistent with accuracy"),
    ("nan loss", _edit_table("final_loss", "nan"), "finite where not diverged"),
    ("seed order", _edit_table("seed", 5), "seeds 0..7 in order"),
    ("text in a number", _edit_table("steps_to_converge", "abc"), "does not hold integers"),
    (
        "curves doubled",
        _npz(
            seed=np.arange(16),
            update=np.array([4, 8]),
            loss=np.zeros((16, 2)),
            accuracy=np.zeros((16, 2)),
        ),
        "does not hold exactly|has shape",
    ),  # fmt: skip
    ("curves huge", _huge_header, r"has shape \(999999999, 999999999\)"),
]


@pytest.mark.parametrize("what,edit,match", EDITS, ids=[e[0] for e in EDITS])
def test_resume_refuses_a_damaged_or_edited_folder(tmp_path, what, edit, match):
    out = tmp_path / "run"
    _tiny_sweep(out)
    edit(out)
    with pytest.raises(ValueError, match=match) as e:
        _tiny_sweep(out, resume=True)
    assert "\n" not in str(e.value)


def test_base_seed_and_seed_counts_are_bounded():
    train = make_train(TINY)
    for bad in (2**32, 2**63, -1, True):
        with pytest.raises(
            ValueError, match=r"base_seed \(--seed\) must be an int in \[0, 2\*\*32\)"
        ):
            run_sweep(train, 4, base_seed=bad, progress=False)
    with pytest.raises(ValueError, match="n_seeds must be <= 2\\*\\*32"):
        run_sweep(train, 2**33, progress=False)
    with pytest.raises(ValueError, match="of host memory for the per-seed results; at most"):
        run_sweep(train, 2**32, progress=False)
    with pytest.raises(ValueError, match="one microbatch of 64 seeds needs at least"):
        run_sweep(make_train(dataclasses.replace(TINY, hidden=100_000)), 4, progress=False)
    # distinct base seeds give distinct tables
    a = run_sweep(train, 4, base_seed=2**32 - 1, progress=False, microbatch=4)
    b = run_sweep(train, 4, base_seed=0, progress=False, microbatch=4)
    assert not np.array_equal(a.table["final_loss"], b.table["final_loss"])


# ------------------------------------------------------------------ interrupts


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_interrupts_at_any_moment_exit_cleanly_and_resume_gives_the_same_table(reference, tmp_path):
    """Each interrupt lands at a chosen point: the worker signals itself there and blocks."""
    out = tmp_path / "interrupted"
    # 1. before anything compiled: the folder is open, nothing is saved yet
    r = _run_worker(out, N, 8, "--signal-at", "start", "INT")
    assert r.returncode == 130, r.stderr[-2000:]
    assert _last_line(r.stderr) == (
        f"interrupted (SIGINT): 0 seeds saved in {out}; rerun with --resume to continue"
    )
    # 2. mid-sweep, by SIGTERM, right after the second chunk: both chunks are kept
    r = _run_worker(out, N, 8, "--resume", "--signal-at", "16", "TERM")
    assert r.returncode == 143, r.stderr[-2000:]
    assert _last_line(r.stderr) == (
        f"interrupted (SIGTERM): 16 seeds saved in {out}; rerun with --resume to continue"
    )
    assert io.read_csv(out / TABLE)["seed"].tolist() == list(range(16))
    # 3. resume: exactly the uninterrupted table
    _worker(out, N, 8, "--resume")
    assert (out / TABLE).read_bytes() == (reference / TABLE).read_bytes()


def test_an_interrupt_while_xla_compiles_exits_at_once(tmp_path):
    """SIGINT sent just before the first compile (no compilation cache, so the main thread is
    inside XLA when the signal is handled) ends the run with one line, nothing saved."""
    out = tmp_path / "compiling"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    code = (
        "import os, signal, sys\n"
        "from rnn_jax import cli, make_train, run_sweep\n"
        "from rnn_jax.cli import use_compilation_cache\n"
        "from tests.sweep_config import TINY\n"
        "use_compilation_cache(None)\n"
        "hook = lambda saved: os.kill(os.getpid(), signal.SIGINT)\n"
        "main = lambda argv: run_sweep(make_train(TINY), 64, chunk_size=8, microbatch=4,\n"
        "                              out_dir=argv[0], progress=False, on_start=hook)\n"
        "sys.argv = ['x', sys.argv[1]]\n"
        "cli.script(main)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(out)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 130, r.stderr[-2000:]
    assert _last_line(r.stderr) == (
        f"interrupted (SIGINT): 0 seeds saved in {out}; rerun with --resume to continue"
    )


# ------------------------------------------------------------------ compilation cache

_CACHED_RUN = """
import hashlib, sys, jax
from rnn_jax import make_train, run_sweep
from rnn_jax.cli import use_compilation_cache
from tests.sweep_config import TINY
use_compilation_cache(None if sys.argv[1] == "off" else sys.argv[1])
events = []
jax.monitoring.register_event_listener(lambda e, **k: events.append(e))
r = run_sweep(make_train(TINY), 8, chunk_size=8, microbatch=4, progress=False)
digest = hashlib.sha256(b"".join(r.table[c].tobytes() for c in sorted(r.table))).hexdigest()
print(digest, events.count("/jax/compilation_cache/cache_hits"))
"""


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
from rnn_jax.cli import use_compilation_cache
a, b = sys.argv[1:]
use_compilation_cache(a)
jax.jit(lambda x: jnp.sin(x) * 2)(jnp.ones(3))
use_compilation_cache(b)
jax.jit(lambda x: jnp.cos(x) * 3)(jnp.ones(3))
use_compilation_cache(None)
jax.jit(lambda x: jnp.tan(x) * 4)(jnp.ones(3))
"""


def test_the_cache_folder_can_be_changed_and_turned_off_within_a_process(tmp_path):
    """JAX opens its cache once per process; a second call must still take effect."""
    a, b = tmp_path / "a", tmp_path / "b"
    r = subprocess.run([sys.executable, "-c", _SWITCHED_CACHE, str(a), str(b)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    entries = lambda folder: sorted(p.name for p in folder.glob("jit__lambda-*"))  # noqa: E731
    assert len(entries(a)) == 1 and len(entries(b)) == 1, (entries(a), entries(b))
    assert entries(a) != entries(b)


def test_a_sweep_compiles_ahead_of_time_and_reports_its_memory():
    from rnn_jax import Sweep
    from rnn_jax import sweep as rj_sweep

    sweep = Sweep(make_train(TINY), 8, microbatch=4)
    compiled = sweep.compile()
    assert isinstance(compiled, jax.stages.Compiled)
    ma = compiled.memory_analysis()
    total = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    assert sweep.memory_bytes() == total > 0
    assert rj_sweep.executable_bytes(compiled) == total


def test_scripts_take_cache_flags(tmp_path):
    from rnn_jax.cli import CompileCache

    assert CompileCache(cache=False).folder() is None
    assert CompileCache(cache_dir=str(tmp_path)).folder() == tmp_path
    with pytest.raises(ValueError, match="--cache-dir must name a folder"):
        CompileCache(cache_dir=" ").folder()


# ------------------------------------------------------------------ several processes


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
    assert "processes 1" in _worker(two, N, 8, "--resume")
    assert _sha(two / TABLE) == _sha(reference / TABLE)
    assert (two / CURVES).read_bytes() == (reference / CURVES).read_bytes()


def test_a_killed_process_stops_the_run_and_resume_completes_it(reference, tmp_path):
    out = tmp_path / "killed"
    # process 1 kills itself right after the first chunk (8 seeds) is gathered and saved
    procs = _processes(out, N, 8, per_process={1: ["--signal-at", "8", "KILL"]})
    (rc1, _, _), (rc, _, err) = _finish(procs[1:])[0], _finish(procs[:1])[0]
    assert rc1 == -signal.SIGKILL
    assert rc == 3, err[-2000:]
    (line,) = _error_lines(err)
    assert "another process of this run stopped" in line and "--resume" in line
    assert json.loads((out / "manifest.json").read_text())["seeds"] == 8
    assert "8 seeds saved" in line, line
    # every process resumes from what process 0 read (the others read no file)
    for rc, _, err in _finish(_processes(out, N, 8, "--resume")):
        assert rc == 0, err[-2000:]
    assert _sha(out / TABLE) == _sha(reference / TABLE)


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
