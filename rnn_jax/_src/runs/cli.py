"""What the experiment scripts share: flags, parsing, one explicit setup call, one-line errors,
clean interrupts.

A script is ``main(argv=None, context=None) -> result`` (what the tests call) plus, under
``__main__``, ``cli.script(main)``::

    def main(argv=None, context=None):
        args, context = cli.start(Args, argv, __doc__, context)  # parse, cache, processes
        ...

    if __name__ == "__main__":
        cli.script(main)

:func:`parse` has no side effects; :func:`start` is the one call that sets up the compilation
cache and joins a multi-process run. :func:`script` turns every failure into one line on
stderr and an exit status, and every Ctrl-C or SIGTERM into one line and a clean exit::

    error: --out results/x is being written by process 4242 on host1; ...      (exit 2)
    interrupted (SIGINT): 192 seeds saved in results/x; rerun the same command to continue
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

from rnn_jax._src import imports
from rnn_jax._src.cells import CELLS, INIT_SCHEMES
from rnn_jax._src.optimizers import OPTIMIZERS
from rnn_jax._src.runs import cache, files, supervisor
from rnn_jax._src.runs.folder import RunFolder
from rnn_jax._src.runs.identity import script_identity
from rnn_jax._src.runs.processes import Processes, ProcessesDisagree
from rnn_jax._src.runs.store import METRICS
from rnn_jax._src.tasks import TASKS
from rnn_jax._src.train import TrainConfig, make_train

#: Exit statuses: done, an internal error, bad input, another process of the run stopped.
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_PEER = 0, 1, 2, 3


def flag(help: str, metavar: str | None = None, default: str | None = None):
    """A flag's help for people at a shell (one line of plain text), its placeholder, and
    what its default means when printing the value would not say (``default="off"``):
    ``Annotated[int, cli.flag("how many seeds", "N")]`` in a script's arguments."""
    import tyro

    hint = None if default is None else f"(default: {default})"
    return tyro.conf.arg(help=help, metavar=metavar, help_behavior_hint=hint)


@dataclasses.dataclass(frozen=True)
class Output:
    """where the run is saved"""

    out: Annotated[
        str | None,
        flag(
            "the results folder. The same command again continues an unfinished run there, "
            "or reuses a finished one.",
            "DIR",
            "a folder under results/ named after the run",
        ),
    ] = None
    overwrite: Annotated[
        bool,
        flag(
            "when --out holds another run, move it aside (renamed OUT.replaced-TIME, never "
            "deleted) and start afresh."
        ),
    ] = False
    resume: Annotated[
        bool, flag("accepted for older command lines: the same command always continues.")
    ] = False

    def folder(self, default: Path) -> Path:
        """The results folder: ``--out`` or ``default``; refuses, in one line, an empty
        ``--out`` and one that names something other than a folder."""
        return out_folder(self.out, default)


@dataclasses.dataclass(frozen=True)
class CompileCache:
    """compiled programs kept between runs"""

    cache: Annotated[
        bool, flag("keep compiled programs between runs (--no-cache: compile afresh).")
    ] = True
    cache_dir: Annotated[
        str | None,
        flag("the cache folder.", "DIR", "$RNN_JAX_CACHE_DIR, else ~/.cache/rnn_jax/jax"),
    ] = None

    def folder(self) -> tuple[Path | None, bool]:
        """The folder to use (``None``: off) and whether the user named it."""
        if not self.cache:
            return None, True
        if self.cache_dir is not None:
            if not self.cache_dir.strip():
                raise ValueError("--cache-dir must name a folder, got an empty string")
            return Path(self.cache_dir).expanduser(), True
        return cache.default_cache_folder(), False


@dataclasses.dataclass(frozen=True)
class ProcessFlags:
    """one run over several processes (give all three of --coordinator, --num-processes,
    --process-id; none: one process, or what SLURM or Open MPI says)"""

    coordinator: Annotated[
        str | None,
        flag("address of process 0 (every process gives the same).", "HOST:PORT", "one process"),
    ] = None
    num_processes: Annotated[
        int | None, flag("how many processes run this command.", "N", "one process")
    ] = None
    process_id: Annotated[
        int | None, flag("this process, 0 to N-1; only process 0 writes files.", "I", "0")
    ] = None
    heartbeat_timeout: Annotated[
        int, flag("seconds after which a silent process counts as dead.", "SECONDS")
    ] = 30
    join_timeout: Annotated[
        int, flag("seconds the processes wait for each other at the start.", "SECONDS")
    ] = 60


def _names(registry) -> str:
    return ", ".join(sorted(registry))


@dataclasses.dataclass(frozen=True)
class TrainFlags:
    """the training run (see --list for the tasks and optimizers and what they read)"""

    task: Annotated[
        str,
        flag(
            f"a task: {_names(TASKS)}, or MODULE:ATTRIBUTE naming your Task or a factory of "
            "one (imported from the working directory).",
            "NAME",
        ),
    ] = "binary_addition"
    task_args: Annotated[
        tuple[str, ...],
        flag("arguments of a task factory (part of the run's identity).", "KEY=VALUE", "none"),
    ] = ()
    optimizer: Annotated[
        str,
        flag(
            f"an optimizer: {_names(OPTIMIZERS)}; optax:NAME for any optax optimizer; or "
            "MODULE:ATTRIBUTE naming your rnn_jax.Optimizer or hparams -> optax factory.",
            "NAME",
        ),
    ] = "rmsprop_nesterov"
    hparams: Annotated[
        dict[str, float],
        flag(
            "hyperparameter values, e.g. --hparams learning_rate 0.1 momentum 0.9.",
            "KEY VALUE",
            "the optimizer's and the task's own",
        ),
    ] = dataclasses.field(default_factory=dict)
    cell: Annotated[
        str, flag(f"the cell of the adder and the tagger: {_names(CELLS)}.", "NAME")
    ] = "tanh"
    init: Annotated[
        str,
        flag(f"the adder's and the tagger's initialisation: {', '.join(INIT_SCHEMES)}.", "NAME"),
    ] = "glorot"
    hidden: Annotated[int, flag("hidden units of the adder and the tagger.", "H")] = 3
    n_train: Annotated[int, flag("training samples of a built-in task.", "N")] = 2000
    batch_size: Annotated[
        int, flag("samples per update; it must divide the training set.", "B")
    ] = 100
    epochs: Annotated[int, flag("passes over the training set.", "N")] = 5
    bits: Annotated[int, flag("bits per number of the adder (1 to 10).", "N")] = 6
    length: Annotated[int, flag("sequence length of the counter and the tagger.", "T")] = 10
    n_test: Annotated[int, flag("test sequences of the counter and the tagger.", "N")] = 100
    eval_every: Annotated[
        int, flag("updates between evaluations (the resolution of the curves).", "N")
    ] = 20
    backward: Annotated[
        str, flag("the backward pass: bptt (hand-written) or autodiff (jax.grad).", "NAME")
    ] = "bptt"
    dtype: Annotated[str, flag("float32 or float64.", "NAME")] = "float32"
    scan_unroll: Annotated[
        int, flag("time steps unrolled per scan iteration (speed only).", "N")
    ] = 8
    list: Annotated[
        bool, flag("print the tasks and optimizers, the hyperparameters each reads, and exit.")
    ] = False

    def config(self) -> TrainConfig:
        """The :class:`rnn_jax.TrainConfig` these flags describe."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k != "list"}
        fields["task_args"] = _key_values(self.task_args, "--task-args")
        return TrainConfig(**fields)


def _key_values(pairs, what: str) -> dict:
    """``("a=1", "b=x")`` -> ``{"a": 1, "b": "x"}`` (values read as Python literals)."""
    out = {}
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} takes KEY=VALUE pairs, got {pair!r}")
        out[key.strip()] = value
    return imports.parse_args(out)


def registered() -> str:
    """The tasks and optimizers a command line can name, with the hyperparameters each reads
    and their defaults (what ``--list`` prints)."""
    lines = ["tasks (--task NAME; or MODULE:ATTRIBUTE with --task-args KEY=VALUE ...):"]
    for name in sorted(TASKS):
        train = make_train(TrainConfig(task=name, eval_every=1))
        read = {k: v for k, v in train.hparams.items() if k in train.task.hparams}
        lines.append(f"  {name:<18} reads {_fmt(read)}")
    lines.append("optimizers (--optimizer NAME; or optax:NAME, or MODULE:ATTRIBUTE):")
    for name in sorted(OPTIMIZERS):
        opt = OPTIMIZERS[name]
        extra = "  (full batch)" if opt.full_batch else ""
        lines.append(f"  {name:<18} reads {_fmt(opt.hparams)}{extra}")
    return "\n".join(lines)


def _fmt(hparams) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in sorted(hparams.items())) or "nothing"


@dataclasses.dataclass
class Context:
    """What :func:`start` set up for a script: this process's place in the run and the cache
    of compiled sweeps (``None``: off)."""

    processes: Processes = dataclasses.field(default_factory=Processes)
    cache: cache.ExecutableCache | None = None


def parse(config_cls, argv: Sequence[str] | None = None, description: str | None = None):
    """Parses a frozen dataclass from the command line (tyro, flat flags such as ``--task``);
    no side effects. A bad value exits with status 2 and one line on stderr."""
    import tyro

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return tyro.cli(
                config_cls,
                args=argv,
                description=description,
                config=(tyro.conf.OmitArgPrefixes,),
            )
    except SystemExit as e:
        if e.code not in (0, None):
            print(f"error: {_one_line_tyro(captured.getvalue())}", file=sys.stderr)
        raise


def start(config_cls, argv=None, doc: str | None = None, context: Context | None = None):
    """A script's one setup call: parses ``argv`` into ``config_cls``, turns the compilation
    cache on or off (a :class:`CompileCache` field) and joins a multi-process run (a
    :class:`ProcessFlags` field). Returns ``(args, context)``."""
    description = doc.split("\n\n")[0] if doc else None
    args = parse(config_cls, argv, description)
    context = Context() if context is None else context
    for field in dataclasses.fields(args):
        value = getattr(args, field.name)
        if isinstance(value, TrainFlags) and value.list:
            print(registered())
            raise SystemExit(0)
        if isinstance(value, CompileCache):
            folder, given = value.folder()
            folder = cache.usable_folder(folder, given=given)
            context.cache = None if folder is None else cache.ExecutableCache(folder)
        if isinstance(value, ProcessFlags):
            if value.heartbeat_timeout < 1:
                raise ValueError("--heartbeat-timeout must be >= 1 second")
            context.processes = Processes.join(
                value.coordinator,
                value.num_processes,
                value.process_id,
                heartbeat_timeout_s=value.heartbeat_timeout,
                settings=_settings(args),
                join_timeout_s=value.join_timeout,
            )
    return args, context


def _settings(args) -> dict:
    """What every process of a run must have been given: the script's arguments (less where
    each one prints and saves, and its place among the processes), the code and the library
    versions."""
    import jax
    import jaxlib
    import optax

    from rnn_jax._src.runs.identity import source_hash

    fields = files.to_jsonable(args)
    for key in ("output", "progress", "compile_cache", "processes"):
        fields.pop(key, None)
    code = {"rnn_jax": source_hash(), "jax": jax.__version__, "jaxlib": jaxlib.__version__}
    return {"args": fields, "code": {**code, "optax": optax.__version__}}


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


def one_line(e: BaseException) -> str:
    """An exception's message on one line (its class name when it has none)."""
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


def run_folder(out: Path, kind: str, args, context: Context, parts=()) -> RunFolder:
    """The :class:`rnn_jax.runs.RunFolder` of a script's ``--out``: its identity is the
    script's kind, its arguments (less ``parts``: arguments that only choose which parts run,
    each part having a folder and an identity of its own) and the environment. The same
    command continues (or reuses) the run; another one is refused unless ``--overwrite``."""
    identity = script_identity(kind, args, leave_out=parts)
    output = getattr(args, "output", None)
    overwrite = bool(output.overwrite) if isinstance(output, Output) else False
    folder = RunFolder(
        out, identity, overwrite=overwrite, processes=context.processes, what="--out"
    )
    if folder.moved_to is not None:
        print(f"moved the other run in {out} to {folder.moved_to}", file=sys.stderr)
    return folder


def reuse_or_run(out: Path, kind: str, args, context: Context, compute: Callable[[], dict]):
    """A script's metrics: those its ``--out`` folder already committed for this very run
    (same identity), else ``compute()``'s, committed as ``metrics.json``."""
    with run_folder(out, kind, args, context) as folder:
        metrics = folder.saved_json(METRICS)
        if metrics is None:
            metrics = compute()
            folder.commit({METRICS: files.json_bytes(metrics)}, seeds=0)
        else:
            print(f"reusing the finished run in {out} (the same command)", file=sys.stderr)
    return metrics


# --------------------------------------------------------------------------- interrupts


def _interrupt_message(signum: int, context: Context) -> str:
    name = signal.Signals(signum).name
    saved = context.processes.last_saved(open_only=True)
    if saved is None:
        return f"interrupted ({name}): nothing was being saved; rerun to start again"
    return (
        f"interrupted ({name}): {saved[1]} seeds saved in {saved[0]}; "
        "rerun the same command to continue"
    )


def install_interrupts(context: Context) -> None:
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

    def watch() -> None:
        data = os.read(read_fd, 1)
        signum = data[0] if data else signal.SIGINT
        try:
            os.write(2, ("\n" + _interrupt_message(signum, context) + "\n").encode())
        finally:
            # No interpreter teardown: XLA may be compiling in this process, and every file of
            # the run is either committed or a temporary that the next run removes.
            os._exit(128 + signum)

    threading.Thread(target=watch, daemon=True, name="interrupts").start()


# --------------------------------------------------------------------------- the wrapper


def _is_out_of_memory(e: BaseException) -> bool:
    text = str(e)
    return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in text or "Out of memory" in text


def _is_peer_failure(e: BaseException) -> bool:
    text = str(e)
    return any(
        s in text
        for s in ("Gloo", "Connection closed by peer", "heartbeat", "coordination service")
    )


def _report(e: BaseException) -> str:
    """Writes the traceback to a new private file (unpredictable name, created exclusively,
    mode 0600) and returns its path."""
    fd, path = tempfile.mkstemp(prefix="rnn_jax-error-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write("".join(traceback.format_exception(e)))
    return path


def failure(e: BaseException, context: Context) -> tuple[int, str]:
    """The exit status and the one line for an exception that ended a script."""
    multi = context.processes.count > 1
    # First: a peer's failure surfaces as whatever class the runtime chose (a Gloo collective
    # raises ValueError or JaxRuntimeError), so it is told by its message.
    if multi and not isinstance(e, ProcessesDisagree) and _is_peer_failure(e):
        last = context.processes.last_saved()
        saved = "" if last is None else f"; {last[1]} seeds saved in {last[0]}"
        return EXIT_PEER, (
            f"error: another process of this run stopped ({one_line(e)[:160]}){saved}; "
            "rerun every process with the same command to continue"
        )
    if isinstance(e, ValueError | TypeError | KeyError):  # bad input, named by the message
        return EXIT_USAGE, f"error: {one_line(e)}"
    if isinstance(e, RuntimeError) and "Unable to initialize backend" in str(e):
        return EXIT_USAGE, f"error: JAX cannot start: {one_line(e)}"
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        last = context.processes.last_saved()
        saved = "" if last is None else f"; {last[1]} seeds saved in {last[0]}"
        return EXIT_USAGE, f"error: {where}{e.strerror or one_line(e)}{saved}"
    if _is_out_of_memory(e):
        return EXIT_USAGE, (
            "error: out of memory; use fewer --seeds per --chunk-size, a smaller model, "
            "or a machine with more memory"
        )
    return EXIT_INTERNAL, (
        f"error: internal error ({type(e).__name__}: {one_line(e)[:200]}); "
        f"full report in {_report(e)}"
    )


def script(main: Callable[..., object]) -> None:
    """Runs ``main(sys.argv[1:], context)`` as a command: one line per failure, never a
    traceback.

    Exit statuses: 0 done; 2 bad input (arguments, files, folders, memory limits, processes
    given different settings); 130/143 interrupted; 3 another process of a multi-process run
    stopped; 1 an unexpected internal error, whose full report goes to a file named in the
    one line. A command that names several processes runs under a supervisor process, so
    that a native abort of JAX's runtime is one line too (docs/guarantees.md).
    """
    if supervisor.wanted(sys.argv[1:]):  # several processes: JAX may abort natively
        raise SystemExit(supervisor.supervise(sys.argv))
    context = Context()
    install_interrupts(context)
    try:
        main(sys.argv[1:], context)
    except SystemExit as e:
        _exit(e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE), context)
    except Exception as e:  # noqa: BLE001 - every failure ends in one line
        code, line = failure(e, context)
        print(line, file=sys.stderr, flush=True)
        if isinstance(e, ProcessesDisagree):  # every process is alive: leave together
            import jax

            jax.distributed.shutdown()
            raise SystemExit(code) from None
        _exit(code, context)
    _exit(0, context)


def _exit(code: int, context: Context) -> None:
    """Ends the script. In a multi-process run, a failed run ends at once: JAX's shutdown
    barrier would wait for the failed process and then abort with a long native log."""
    if code and context.processes.count > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
