"""What the scripts share: interrupts at chosen points, one-line failures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_jax.runs import TABLE, Processes, cli, files
from tests.conftest import N_REFERENCE
from tests.helpers import HANG_S, ROOT, run_worker, worker


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_interrupts_at_any_moment_exit_cleanly_and_resume_gives_the_same_table(reference, tmp_path):
    """Each interrupt lands at a chosen point: the worker signals itself there and blocks."""
    out = tmp_path / "interrupted"
    # 1. before anything compiled: the folder is open, nothing is saved yet
    r = run_worker(out, N_REFERENCE, 8, "--signal-at", "start", "INT")
    assert r.returncode == 130, r.stderr[-2000:]
    assert _last_line(r.stderr) == (
        f"interrupted (SIGINT): 0 seeds saved in {out}; rerun the same command to continue"
    )
    # 2. mid-sweep, by SIGTERM, right after the second chunk: both chunks are kept
    r = run_worker(out, N_REFERENCE, 8, "--signal-at", "16", "TERM")
    assert r.returncode == 143, r.stderr[-2000:]
    assert _last_line(r.stderr) == (
        f"interrupted (SIGTERM): 16 seeds saved in {out}; rerun the same command to continue"
    )
    assert files.read_csv(out / TABLE)["seed"].tolist() == list(range(16))
    # 3. the same command again continues: exactly the uninterrupted table
    worker(out, N_REFERENCE, 8)
    assert (out / TABLE).read_bytes() == (reference / TABLE).read_bytes()


@pytest.mark.slow
def test_an_interrupt_while_xla_compiles_exits_at_once(tmp_path):
    """SIGINT sent as the first program after the folder opened leaves JAX's lowering for XLA
    (from a listener on JAX's lowering event, registered by the run's ``on_start`` hook; no
    compilation cache, so XLA then compiles for seconds while the signal is handled) ends the
    run with one line, nothing saved."""
    out = tmp_path / "compiling"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    code = (
        "import os, signal, sys\n"
        "import jax.monitoring\n"
        "from rnn_jax import make_train\n"
        "from rnn_jax.runs import cli, run_sweep, use_compilation_cache\n"
        "from tests.sweep_config import TINY\n"
        "use_compilation_cache(None)\n"
        "def lowered(event, duration, **kwargs):\n"
        "    if event == '/jax/core/compile/jaxpr_to_mlir_module_duration':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "hook = lambda saved: jax.monitoring.register_event_duration_secs_listener(lowered)\n"
        "main = lambda argv, context: run_sweep(\n"
        "    make_train(TINY), 64, chunk_size=8, microbatch=4, out_dir=argv[0], progress=False,\n"
        "    on_start=hook, processes=context.processes)\n"
        "sys.argv = ['x', sys.argv[1]]\n"
        "cli.script(main)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(out)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=HANG_S)  # fmt: skip
    assert r.returncode == 130, r.stderr[-2000:]
    assert _last_line(r.stderr) == (
        f"interrupted (SIGINT): 0 seeds saved in {out}; rerun the same command to continue"
    )


@pytest.mark.parametrize("count,rc,line", [
    (2, 3, "error: another process of this run stopped"),
    (1, 2, "error: UNKNOWN: Gloo AllGather failed"),
])  # fmt: skip
def test_a_peer_failure_is_told_by_its_message_whatever_its_class(count, rc, line):
    # what a Gloo collective raised when its peer was killed (JAX 0.10): a plain ValueError
    e = ValueError("UNKNOWN: Gloo AllGather failed: [pair.cc:547] Connection closed by peer")
    code, text = cli.failure(e, cli.Context(Processes(count=count)))
    assert code == rc and text.startswith(line) and "\n" not in text, text


class _Saved:
    closed, path = False, "results/x"

    def committed_seeds(self):
        return 192


def test_every_failure_is_one_line_naming_what_is_saved():
    context = cli.Context(Processes())
    context.processes.record(_Saved())
    full = OSError(27, "File too large", "results/x/per_seed.csv")
    code, line = cli.failure(full, context)
    assert code == 2 and line == (
        "error: results/x/per_seed.csv: File too large; 192 seeds saved in results/x"
    )
    bogus = RuntimeError("Unable to initialize backend 'bogus': Backend 'bogus' is not known")
    code, line = cli.failure(bogus, context)
    assert code == 2 and line.startswith("error: JAX cannot start: Unable to initialize")
    code, line = cli.failure(ZeroDivisionError("x"), context)
    assert code == 1 and "internal error (ZeroDivisionError: x); full report in" in line
    report = line.rsplit(" ", 1)[1]
    assert os.stat(report).st_mode & 0o077 == 0  # a private file, created for this report
    assert "ZeroDivisionError" in Path(report).read_text()
    os.unlink(report)
