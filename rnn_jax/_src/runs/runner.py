"""Running sweeps: many seeds of one training run, in chunks, saved as they finish; grids.

:func:`run_sweep` is four named steps: open the results folder (a folder holding the same run
is continued, or reused when complete), share what it holds with every process, run the
missing seeds chunk by chunk (each chunk committed, so a killed sweep loses at most the chunk
in flight), and finish (summary and metrics). A grid (:func:`run_grid`) runs every point on one
compiled :class:`rnn_jax.runs.Sweep`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from rnn_jax._src import checks
from rnn_jax._src.runs import files, store
from rnn_jax._src.runs.engine import (
    DEFAULT_MICROBATCH,
    Sweep,
    check_base_seed,
    check_sizes,
    check_train,
    seed_keys,
)
from rnn_jax._src.runs.folder import RunFolder
from rnn_jax._src.runs.processes import Processes
from rnn_jax._src.runs.progress import Progress
from rnn_jax._src.runs.store import CURVES, METRICS, TABLE, SweepResult

DEFAULT_CHUNK_SIZE = 1000


class _Rows:
    """The seeds done so far: table chunks and curve rows, concatenated on demand."""

    def __init__(self, columns: list[str], facts: Mapping):
        self.columns, self.facts = columns, facts
        self.tables: list[dict] = []
        self.loss: list[np.ndarray] = []
        self.accuracy: list[np.ndarray] = []

    def add(self, table: Mapping, loss, accuracy) -> None:
        self.tables.append(dict(table))
        self.loss.append(np.asarray(loss, np.float64))
        self.accuracy.append(np.asarray(accuracy, np.float64))

    def table(self) -> dict[str, np.ndarray]:
        if not self.tables:
            return {
                c: np.zeros((0,), np.int64 if c == "seed" else np.float64) for c in self.columns
            }
        return {c: np.concatenate([t[c] for t in self.tables]) for c in self.columns}

    def curves(self) -> dict[str, np.ndarray]:
        n_evals = store.eval_updates(self.facts).size
        stack = lambda parts: np.concatenate(parts) if parts else np.zeros((0, n_evals))  # noqa: E731
        table = self.table()
        return store.curves_from(table["seed"], stack(self.loss), stack(self.accuracy), self.facts)


def _engine(train, n_seeds, chunk_size, devices, microbatch, sweep, cache=None) -> Sweep:
    """The compiled sweep to run: ``sweep`` when given (its chunking must not contradict the
    arguments), else a new one, once sizes are checked."""
    if sweep is not None:
        if not isinstance(sweep, Sweep):
            raise TypeError(f"sweep must be an rnn_jax.runs.Sweep, got {type(sweep).__name__}")
        if sweep.train is not train:
            raise ValueError("sweep was compiled for another train")
        asked = {"chunk_size": chunk_size, "microbatch": microbatch}
        for name, value in asked.items():
            if value is not None and value != getattr(sweep, name):
                raise ValueError(
                    f"{name}={value} contradicts the sweep given ({name} {getattr(sweep, name)})"
                )
        if devices is not None and list(devices) != sweep.devices:
            raise ValueError("devices contradicts the sweep given")
        return sweep
    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    microbatch = DEFAULT_MICROBATCH if microbatch is None else microbatch
    checks.check_positive_int("chunk_size", chunk_size)
    checks.check_positive_int("microbatch", microbatch)
    if devices is not None and not list(devices):
        raise ValueError("devices must hold at least one device")
    check_sizes(train, n_seeds, chunk_size, microbatch, devices)
    return Sweep(train, min(chunk_size, n_seeds), devices, microbatch, cache)


def _open(out_dir, identity, overwrite, n_seeds, processes):
    """The results folder (``None`` without ``out_dir``), the seeds it holds (at most
    ``n_seeds``: a folder holding more gives its first ``n_seeds``) and their results, read
    and validated on the writer (the other processes read nothing)."""
    if out_dir is None:
        return None, 0, None, None
    folder = RunFolder(out_dir, identity, overwrite=overwrite, processes=processes)
    try:
        if folder.moved_to is not None:
            print(f"moved the other run in {folder.path} to {folder.moved_to}", file=sys.stderr)
        start, saved, metrics = min(folder.seeds, n_seeds), None, None
        if folder.seeds:
            table, curves = store.read_sweep(folder)
            saved = store.first_seeds(table, curves, start)
            metrics = folder.saved_json(METRICS, 1 << 20)
    except BaseException:
        folder.close()
        raise
    return folder, start, saved, metrics


def _share_start(processes: Processes, start: int, saved) -> tuple[int, tuple | None]:
    """Every process continues from the seeds process 0 (the only one that reads the
    folder) found saved: the count and the table and curves files' bytes."""
    if processes.count == 1:
        return start, saved
    payload = b""
    if processes.writer and saved is not None:
        data = store.sweep_files(*saved)
        payload = len(data[TABLE]).to_bytes(8, "little") + data[TABLE] + data[CURVES]
    header = processes.share_from_first(start.to_bytes(8, "little"))
    start = int.from_bytes(header, "little")
    data = processes.share_from_first(payload)
    if processes.writer or not start:
        return start, saved
    n_table = int.from_bytes(data[:8], "little")
    table = files.parse_csv(data[8 : 8 + n_table], TABLE)
    curves = files.parse_npz(data[8 + n_table :], CURVES)
    return start, (table, curves)


def _run_chunks(
    sweep: Sweep, hp, base_seed, start, n_seeds, rows: _Rows, folder, bar, on_start, on_chunk
) -> dict | None:
    """Runs the seeds ``start .. n_seeds-1`` in chunks, committing each; returns the timings,
    or ``None`` if there was nothing to run."""
    if start >= n_seeds:
        return None
    bar.say(
        f"compiling {sweep.train.task.name} / {sweep.train.optimizer.name} and running the "
        f"first {min(sweep.chunk_size, n_seeds - start)} seeds ..."
    )
    if on_start is not None:
        on_start(start)
    bar.started = time.perf_counter()
    for lo in range(start, n_seeds, sweep.chunk_size):
        seeds = np.arange(lo, min(lo + sweep.chunk_size, n_seeds))
        t0 = time.perf_counter()
        out = sweep(seed_keys(base_seed, seeds), hp)
        seconds = time.perf_counter() - t0
        rows.add(
            store.table_from_outcomes(seeds, hp, out), out["loss_curve"], out["accuracy_curve"]
        )
        if folder is not None:
            folder.commit(store.sweep_files(rows.table(), rows.curves()), seeds=int(seeds[-1]) + 1)
        bar.chunk(len(seeds), seconds, int(seeds[-1]) + 1 - start)
        if on_chunk is not None:
            on_chunk(int(seeds[-1]) + 1)
    return bar.timings()


def run_sweep(
    train,
    n_seeds: int,
    *,
    base_seed: int = 0,
    chunk_size: int | None = None,
    hparams: Mapping[str, float] | None = None,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = True,
    progress: bool = True,
    devices=None,
    microbatch: int | None = None,
    sweep: Sweep | None = None,
    processes: Processes | None = None,
    cache=None,
    on_start: Callable[[int], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> SweepResult:
    """Trains seeds ``0 .. n_seeds-1`` of ``train`` and returns a :class:`SweepResult`.

    Args:
      train: from :func:`rnn_jax.make_train`.
      n_seeds: how many seeds.
      base_seed: seed ``i`` trains from ``fold_in(key(base_seed), i)``; in ``[0, 2**32)``.
      chunk_size: seeds per compiled call (memory, progress and save granularity); default
        1000, or the chunk of ``sweep``.
      hparams: values overriding ``train.hparams`` for this sweep (checked: names, ranges).
      out_dir: a results folder (:class:`rnn_jax.runs.RunFolder`: locked while the sweep
        runs, its identity in ``config.json``, ``per_seed.csv`` and ``curves.npz`` committed
        with checksums after every chunk, ``metrics.json`` at the end).
      overwrite: when ``out_dir`` holds another run, move it aside (renamed, never deleted)
        instead of refusing. A folder holding this same run is continued (``n_seeds`` may
        grow; its files are verified and the seeds saved are not run again), or reused when
        complete; a folder holding more seeds gives its first ``n_seeds``.
      resume: accepted for compatibility; the same run is always continued.
      progress: a progress bar on stderr.
      devices: the devices to shard seeds over (default: all of JAX's).
      microbatch: seeds per ``vmap`` (default 64); part of a sweep's identity.
      sweep: a compiled :class:`rnn_jax.runs.Sweep` of the same ``train`` to reuse (a grid
        does); ``chunk_size``, ``devices`` and ``microbatch`` may be left out or must agree.
      processes: this process's place in a multi-process run (:class:`rnn_jax.runs.Processes`;
        default: what JAX's runtime says). Only process 0 reads and writes ``out_dir``.
      cache: an :class:`rnn_jax.runs.ExecutableCache` to load the compiled chunk from (and
        store it in); ignored with ``sweep``.
      on_start: called with the number of seeds already saved once the folder is open,
        just before the first chunk compiles (not called when nothing is left to run).
      on_chunk: called with the number of seeds saved after every chunk.

    Returns:
      A :class:`SweepResult`: the whole table (saved and new seeds) and its summary.

    Example:
      >>> import rnn_jax as rj, rnn_jax.runs as runs
      >>> train = rj.make_train(rj.TrainConfig(n_train=200, epochs=2, eval_every=4, bits=3))
      >>> r = runs.run_sweep(train, 16, hparams={"learning_rate": 0.1}, progress=False,
      ...                    microbatch=8)
      >>> r.summary["seeds"], sorted(r.table)[:3]
      (16, ['accuracy', 'bad_accuracy', 'converged'])
    """
    check_train(train)
    checks.check_positive_int("n_seeds", n_seeds)
    if n_seeds > 2**32:
        raise ValueError(f"n_seeds must be <= 2**32 (seed indices are 32 bits), got {n_seeds}")
    base_seed = check_base_seed(base_seed)
    if out_dir is not None and not isinstance(out_dir, str | Path):
        raise TypeError(f"out_dir must be a folder's path, got {type(out_dir).__name__}")
    processes = Processes.current() if processes is None else processes
    hp = {k: float(v) for k, v in sorted(train.check_hparams(hparams or {}).items())}
    sweep = _engine(train, n_seeds, chunk_size, devices, microbatch, sweep, cache)
    # the identity is needed to save a run or to agree with other processes on it (a task
    # that cannot be described can still train, unsaved)
    shared = out_dir is not None or processes.count > 1
    identity = store.identity_of(train, base_seed, sweep.microbatch, hp) if shared else None
    rows = _Rows(store.table_columns(hp), store.outcome_facts(train))
    bar = Progress(n_seeds, progress)
    folder, start, saved, metrics = _open(out_dir, identity, overwrite, n_seeds, processes)
    try:
        # every process proves it runs this very sweep before any work is shared
        if processes.count > 1:
            agreed = {"identity": identity, "n_seeds": n_seeds, "chunk_size": sweep.chunk_size}
            processes.agree(agreed, what="settings for this sweep")
        start, saved = _share_start(processes, start, saved)
        if start:
            table, curves = saved
            rows.add(table, curves["loss"], curves["accuracy"])
            verb = "reusing the" if start == n_seeds else "continuing after"
            print(  # said whatever ``progress``: what was not trained again
                f"{verb} {start} seeds already in {Path(out_dir) / TABLE} (the same run)",
                file=sys.stderr,
                flush=True,
            )
        bar.total = n_seeds - start
        timing = _run_chunks(
            sweep, hp, base_seed, start, n_seeds, rows, folder, bar, on_start, on_chunk
        )
        result = _finish(sweep, rows, hp, identity, folder, n_seeds, timing, metrics)
        return result._replace(trained=n_seeds - start)
    finally:
        if folder is not None:
            folder.close()


def _finish(sweep, rows: _Rows, hp, identity, folder, n_seeds, timing, metrics) -> SweepResult:
    """The summary of the whole table (with this run's timings, or the recorded ones when
    nothing ran), committed as ``metrics.json``."""
    table, curves = rows.table(), rows.curves()
    summary = store.summary_of(table, None)
    if timing is None:  # nothing ran: keep the timings recorded for these seeds, if any
        recorded = store.summary_of(table, metrics)
        timing = {k: recorded.get(k) for k in store.TIMING}
    summary.update(timing, devices=len(sweep.devices), chunk_size=sweep.chunk_size)
    out_dir = None
    if folder is not None:
        data = files.json_bytes({"n_seeds": n_seeds, "hparams": hp, "summary": summary})
        # A folder holding more seeds keeps its own metrics; a reused one is not rewritten.
        if folder.seeds == n_seeds and (metrics is None or data != files.json_bytes(metrics)):
            folder.commit({METRICS: data}, seeds=n_seeds)
        out_dir = folder.path
    return SweepResult(table, curves, summary, hp, out_dir, identity if folder else None)
