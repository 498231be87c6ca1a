"""What the experiment scripts share: parsing, one-line errors, clean interrupts, the
persistent compilation cache.

A script is ``main(argv) -> result`` (what the tests call) plus, under ``__main__``,
``cli.script(main)``, which turns every failure into one line on stderr and an exit status,
and every Ctrl-C or SIGTERM into one line and a clean exit::

    error: --out results/x is being written by process 4242 on host1; ...      (exit 2)
    interrupted: 192 seeds saved in results/x; rerun with --resume to continue   (exit 130)
"""

from __future__ import annotations

import contextlib
import dataclasses
import io as _io
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from rnn_jax._src import io, rundir

EXIT_USAGE = 2
EXIT_INTERNAL = 1

#: Where compiled executables are kept between runs, unless RNN_JAX_CACHE_DIR or --cache-dir
#: say otherwise: ``$XDG_CACHE_HOME/rnn_jax/jax`` (``~/.cache/rnn_jax/jax``).
CACHE_ENV = "RNN_JAX_CACHE_DIR"


@dataclasses.dataclass(frozen=True)
class CompileCache:
    """JAX's persistent compilation cache for a script (flags ``--cache/--no-cache`` and
    ``--cache-dir``): a rerun loads its compiled executables instead of compiling them again.

    A cached executable is the one a compile would produce (its key is the program, the
    compile options, the backend and the JAX/jaxlib versions), so results are byte-identical
    with and without it (``tests/test_sweep.py``).
    """

    cache: bool = True
    """keep compiled executables between runs (--no-cache: compile everything afresh)."""
    cache_dir: str | None = None
    """the cache folder (default: $RNN_JAX_CACHE_DIR, else ~/.cache/rnn_jax/jax)."""

    def folder(self) -> Path | None:
        if not self.cache:
            return None
        if self.cache_dir is not None:
            if not self.cache_dir.strip():
                raise ValueError("--cache-dir must name a folder, got an empty string")
            return Path(self.cache_dir).expanduser()
        if os.environ.get(CACHE_ENV):
            return Path(os.environ[CACHE_ENV]).expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "rnn_jax" / "jax"


@dataclasses.dataclass(frozen=True)
class Processes:
    """Several processes on one sweep (flags ``--coordinator HOST:PORT --num-processes N
    --process-id I``, see :func:`rnn_jax.sweep.initialize`); none given: one process, or
    what a cluster launcher's environment (SLURM, Open MPI) says."""

    coordinator: str | None = None
    """HOST:PORT of process 0 (every process gives the same)."""
    num_processes: int | None = None
    """how many processes run this command."""
    process_id: int | None = None
    """this process's index in [0, num_processes); only process 0 writes files."""
    heartbeat_timeout: int = 30
    """seconds after which a silent process counts as dead and the others stop."""


def use_compilation_cache(folder: str | os.PathLike | None) -> Path | None:
    """Turns JAX's persistent compilation cache on in ``folder`` (``None``: off), with the
    thresholds at 0 so that every executable of a sweep is kept. This sets JAX's global
    configuration: scripts call it (through :func:`parse`), importing rnn_jax never does.
    A later call replaces an earlier one (another folder, or off)."""
    import jax
    from jax._src import compilation_cache

    # JAX opens its cache once per process and then ignores changes of the folder or of the
    # switch; resetting it makes a second call take effect (tests, the benchmark's cold/warm).
    compilation_cache.reset_cache()
    if folder is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--cache-dir {folder} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"--cache-dir {folder}: cannot create it ({e.strerror})") from None
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def parse(config_cls, argv: Sequence[str] | None = None, description: str | None = None):
    """Parses a frozen dataclass from the command line (tyro, flat flags such as ``--task``).

    A bad value exits with status 2 and one line on stderr naming the argument. A field
    holding a :class:`CompileCache` (flags ``--cache/--no-cache``, ``--cache-dir``) is applied
    at once with :func:`use_compilation_cache`, and one holding :class:`Processes`
    (``--coordinator``, ``--num-processes``, ``--process-id``) joins the multi-process run.
    """
    import tyro

    captured = _io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            args = tyro.cli(
                config_cls,
                args=argv,
                description=description,
                config=(tyro.conf.OmitArgPrefixes,),
            )
        for field in dataclasses.fields(args):
            value = getattr(args, field.name)
            if isinstance(value, CompileCache):
                use_compilation_cache(value.folder())
            if isinstance(value, Processes):
                from rnn_jax._src import distributed

                if value.heartbeat_timeout < 1:
                    raise ValueError("--heartbeat-timeout must be >= 1 second")
                distributed.initialize(
                    value.coordinator,
                    value.num_processes,
                    value.process_id,
                    heartbeat_timeout_s=value.heartbeat_timeout,
                )
        return args
    except SystemExit as e:
        if e.code not in (0, None):
            print(f"error: {_one_line_tyro(captured.getvalue())}", file=sys.stderr)
        raise
    except (ValueError, TypeError) as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _one_line_tyro(message: str) -> str:
    """tyro's boxed error as one line: its title and first explanatory lines."""
    lines = []
    for raw in message.splitlines():
        line = raw.strip().strip("╭╮╰╯│─").strip()
        if line.startswith(("Argument helptext", "For full helptext")):
            break
        if line and set(line) - set("─ "):
            lines.append(line)
    return " ".join(lines) or "invalid arguments (see --help)"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def out_folder(out: str | None, default: Path) -> Path:
    """The results folder a script writes: ``--out`` or ``default``; refuses an empty
    ``--out`` and one that names something other than a folder, in one line."""
    if out is None:
        return default
    if not out.strip():
        raise ValueError("--out must name a folder, got an empty string")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"--out {out}: {parent} is not a folder")
    return path


def run_folder(out: Path, kind: str, args, resume: bool) -> rundir.RunFolder:
    """The :class:`~rnn_jax._src.rundir.RunFolder` of a script's ``--out``: its identity is
    the script's name, its arguments and the environment (code, versions, hardware)."""
    settings = {k: v for k, v in io.to_jsonable(args).items() if k not in NOT_IDENTITY}
    identity = {"kind": kind, "args": settings, "environment": rundir.environment()}
    return rundir.RunFolder(out, identity, resume=resume, what="--out")


#: Script arguments that do not decide any number a run writes.
NOT_IDENTITY = (
    "out",
    "resume",
    "progress",
    "chunk_size",
    "json",
    "compile_cache",
    "processes",
)


# --------------------------------------------------------------------------- interrupts


def _interrupt_message(signum: int) -> str:
    folder = rundir.active()
    name = signal.Signals(signum).name
    if folder is None:
        return f"interrupted ({name}): nothing was being saved; rerun to start again"
    return (
        f"interrupted ({name}): {folder.seeds} seeds saved in {folder.path}; "
        "rerun with --resume to continue"
    )


def _watch(read_fd: int) -> None:
    data = os.read(read_fd, 1)
    signum = data[0] if data else signal.SIGINT
    try:
        os.write(2, ("\n" + _interrupt_message(signum) + "\n").encode())
    finally:
        # No interpreter teardown: XLA may be compiling in this process, and every file of
        # the run is either committed or a temporary that the next run removes.
        os._exit(128 + signum)


def install_interrupts() -> None:
    """SIGINT and SIGTERM end the process at once, at any moment (compiling included), with
    one line naming what is saved and exit status 130 or 143.

    The operating system's handler writes the signal to a pipe (``signal.set_wakeup_fd``) that
    a thread waits on, so the exit does not wait for the main thread to return from XLA.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    threading.Thread(target=_watch, args=(read_fd,), daemon=True, name="interrupts").start()


# --------------------------------------------------------------------------- the wrapper


def _is_out_of_memory(e: BaseException) -> bool:
    text = str(e)
    return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in text or "Out of memory" in text


def script(main: Callable[[Sequence[str] | None], object]) -> None:
    """Runs ``main(sys.argv[1:])`` as a command: one line per failure, never a traceback.

    Exit statuses: 0 done; 2 bad input (arguments, files, folders, memory limits); 130/143
    interrupted; 3 another process of a multi-process run stopped; 1 an unexpected internal
    error, whose full report goes to a file named in the one line.
    """
    install_interrupts()
    try:
        main(sys.argv[1:])
    except SystemExit as e:
        _exit(e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE))
    except Exception as e:  # noqa: BLE001 - every failure ends in one line
        # First: a peer's failure surfaces as whatever class the runtime chose (a Gloo
        # collective raises ValueError or JaxRuntimeError), so it is told by its message.
        if _multi_process() and _is_peer_failure(e):
            last = rundir.last_written()
            saved = "" if last is None else f"; {last[1]} seeds saved in {last[0]}"
            print(
                f"error: another process of this run stopped ({_one_line(e)[:160]}){saved}; "
                "rerun every process with --resume to continue",
                file=sys.stderr,
            )
            _exit(EXIT_PEER)
        if isinstance(e, (ValueError, TypeError, KeyError)):  # bad input, named by the message
            print(f"error: {_one_line(e)}", file=sys.stderr)
            _exit(EXIT_USAGE)
        if isinstance(e, OSError):
            where = f"{e.filename}: " if e.filename else ""
            print(f"error: {where}{e.strerror or _one_line(e)}", file=sys.stderr)
            _exit(EXIT_USAGE)
        if _is_out_of_memory(e):
            print(
                "error: out of memory; use fewer --seeds per --chunk-size, a smaller model, "
                "or a machine with more memory",
                file=sys.stderr,
            )
            _exit(EXIT_USAGE)
        report = (
            Path(tempfile.gettempdir())
            / f"rnn_jax-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        )
        report.write_text("".join(traceback.format_exception(e)))
        print(
            f"error: internal error ({type(e).__name__}: {_one_line(e)[:200]}); "
            f"full report in {report}",
            file=sys.stderr,
        )
        _exit(EXIT_INTERNAL)
    _exit(0)


#: Exit status when another process of a multi-process run stopped.
EXIT_PEER = 3


def _multi_process() -> bool:
    from rnn_jax._src import distributed

    return bool(distributed._STATE)


def _is_peer_failure(e: BaseException) -> bool:
    text = str(e)
    return any(
        s in text
        for s in ("Gloo", "Connection closed by peer", "heartbeat", "coordination service")
    )


def _exit(code: int) -> None:
    """Ends the script. In a multi-process run, a failed run ends at once: JAX's shutdown
    barrier would wait for the failed process and then abort with a long native log."""
    if code and _multi_process():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
