"""Seed sweeps: one :class:`rnn_jax.Train` over many seeds, in chunks, sharded over devices.

* Seed ``i`` trains from ``fold_in(key(base_seed), i)`` (:func:`seed_keys`): the same data and
  initial network whatever the optimizer or hyperparameters (seeds are *paired*), and a result
  that does not depend on the chunk size, the chunk it falls in, or the number of devices.
* Every chunk has the same shape (the last is padded and the padding dropped), and every
  hyperparameter is a traced argument, so a sweep compiles once for any number of seeds and any
  grid of hyperparameter values (:func:`run_grid`).
* Bit-for-bit reproducibility: every seed trains inside a ``vmap`` of exactly ``microbatch``
  seeds, at position ``seed % microbatch`` (why: ``docs/performance.md``); each device runs
  ``lax.map`` over its microbatches (``shard_map``), and chunks are multiples of
  ``microbatch x devices``.
* The seed axis is sharded over ``jax.devices()`` with a 1-D ``Mesh``; over several processes
  (``jax.distributed``) the keys are laid out with ``make_array_from_callback`` and the results
  gathered with ``process_allgather``; only process 0 writes files.
* With ``out_dir``, the per-seed table and the curves are saved after every chunk, so a killed
  sweep loses at most the chunk in flight and ``resume=True`` continues it.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rnn_jax._src import checks, io, rundir, stats
from rnn_jax._src.io import FileError
from rnn_jax._src.train import CURVE_FIELDS, TABLE_FIELDS, Train

TABLE = "per_seed.csv"
CURVES = "curves.npz"
CONFIG = "config.json"
METRICS = "metrics.json"
DEFAULT_MICROBATCH = 64


def seed_keys(base_seed: int, seeds: np.ndarray) -> np.ndarray:
    """Raw ``uint32[2]`` key data of ``fold_in(key(base_seed), i)`` for each seed index ``i``."""
    base = jax.random.key(base_seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(np.asarray(seeds, np.uint32))
    return np.asarray(jax.random.key_data(keys))


def use_cpu_cores(count: int | None = None) -> bool:
    """Expose the host's cores to JAX as ``count`` CPU devices (default: all cores), so that a
    :class:`Sweep` shards its seeds over them like over several GPUs.

    Sets ``jax_num_cpu_devices``, which only takes effect before JAX starts its backends: an
    entry point calls it first thing (it changes global JAX state, so the library never does).
    Returns whether it was applied (``False`` if the backends are already up, or the device
    count was already chosen through ``XLA_FLAGS`` or the config). Results do not depend on
    the device count (see the module docstring).
    """
    import os

    count = (os.cpu_count() or 1) if count is None else count
    checks.check_positive_int("count", count)
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return False
    if jax.config.jax_num_cpu_devices != -1:
        return False
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # the backends are up: too late
        return False
    return True


def executable_bytes(compiled: jax.stages.Compiled) -> int | None:
    """Bytes XLA reserves to run a compiled program (temporaries + arguments + outputs), from
    its memory analysis; ``None`` where the backend does not report it.

    Example::

        compiled = jax.jit(f).trace(x).lower().compile()
        executable_bytes(compiled)  # e.g. 1_048_576
    """
    try:
        ma = compiled.memory_analysis()
        return int(ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes)
    except Exception:  # noqa: BLE001 - memory analysis is optional per backend
        return None


class Sweep:
    """One :class:`rnn_jax.Train` compiled for a fixed chunk of seeds, sharded over devices.

    Every call passes every hyperparameter of ``train`` as a traced argument, so one compiled
    sweep serves any values: a grid over them compiles once.

    Args:
      train: a :class:`rnn_jax.Train` from :func:`rnn_jax.make_train`.
      chunk_size: seeds per call; rounded up to a multiple of ``microbatch x devices``.
      devices: defaults to ``jax.devices()``.
      microbatch: seeds per ``vmap`` (see the module docstring); part of a sweep's identity.
    """

    def __init__(
        self, train: Train, chunk_size: int, devices=None, microbatch: int = DEFAULT_MICROBATCH
    ):
        if not isinstance(train, Train):
            raise TypeError(f"train must come from rnn_jax.make_train, got {type(train).__name__}")
        checks.check_positive_int("chunk_size", chunk_size)
        checks.check_positive_int("microbatch", microbatch)
        self.train = train
        self.devices = list(jax.devices() if devices is None else devices)
        unit = microbatch * len(self.devices)
        self.microbatch = microbatch
        self.chunk_size = -(-chunk_size // unit) * unit
        self.mesh = Mesh(np.array(self.devices), ("seeds",))
        spec = PartitionSpec("seeds")
        self.sharding = NamedSharding(self.mesh, spec)
        keep = (*TABLE_FIELDS, *CURVE_FIELDS)

        def local(key_data, hparams):  # this device's seeds, in microbatches
            keys = jax.random.wrap_key_data(key_data).reshape((-1, microbatch))
            micro = jax.vmap(train, in_axes=(0, None))

            # Only the per-seed numbers and curves leave; XLA drops the final parameters.
            def one(k):
                outcome = micro(k, hparams)
                return {f: getattr(outcome, f) for f in keep}

            out = jax.lax.map(one, keys)
            return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), out)

        self._run = jax.jit(
            jax.shard_map(
                local,
                mesh=self.mesh,
                in_specs=(spec, PartitionSpec()),
                out_specs=spec,
                check_vma=False,
            )
        )

    def _global_keys(self, key_data: np.ndarray):
        n = key_data.shape[0]
        if n > self.chunk_size:
            raise ValueError(f"got {n} keys for a chunk of {self.chunk_size}")
        padded = np.concatenate([key_data, np.repeat(key_data[-1:], self.chunk_size - n, 0)])
        return jax.make_array_from_callback(padded.shape, self.sharding, lambda idx: padded[idx])

    def _hparams(self, hparams) -> dict[str, np.ndarray]:
        """Every hyperparameter, checked, as arrays of the run's dtype (one executable)."""
        full = self.train.check_hparams(hparams or {})
        return {k: np.asarray(v, self.train.dtype) for k, v in full.items()}

    def compile(self, hparams: Mapping[str, Any] | None = None) -> jax.stages.Compiled:
        """Traces, lowers and compiles one chunk ahead of time, as the first call does (with
        the persistent compilation cache on, a rerun loads it instead). The result's
        ``memory_analysis()`` and ``cost_analysis()`` describe the executable."""
        with self.train.precision():
            keys = self._global_keys(seed_keys(0, np.arange(1)))
            return self._run.trace(keys, self._hparams(hparams)).lower().compile()

    def memory_bytes(self, hparams: Mapping[str, Any] | None = None) -> int | None:
        """Bytes XLA reserves to run one chunk: :func:`executable_bytes` of :meth:`compile`
        (``None`` also where compiling fails)."""
        try:
            compiled = self.compile(hparams)
        except Exception:  # noqa: BLE001 - as before: a measurement, never an error
            return None
        return executable_bytes(compiled)

    def __call__(
        self, key_data: np.ndarray, hparams: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Runs one chunk; ``key_data`` has at most ``chunk_size`` rows. Returns host arrays:
        :data:`rnn_jax._src.train.TABLE_FIELDS` and the curves, one row per seed."""
        n = key_data.shape[0]
        hp = self._hparams(hparams)
        with self.train.precision():
            out = self._run(self._global_keys(key_data), hp)
            if jax.process_count() > 1:
                from jax.experimental import multihost_utils

                out = multihost_utils.process_allgather(out, tiled=True)
            return {k: np.asarray(v)[:n] for k, v in out.items()}


class SweepResult(NamedTuple):
    """What :func:`run_sweep` returns.

    Attributes:
      table: per-seed columns: ``seed``, one column per hyperparameter (its value), then the
        :class:`rnn_jax.Outcome` numbers (``converged``, ``steps_to_converge``, ...).
      curves: ``seed`` ``(n,)``, ``update`` ``(n_evals,)`` (the update count of each point),
        ``loss`` and ``accuracy`` ``(n, n_evals)``.
      summary: :func:`rnn_jax.stats.summarize` of the table, plus timings.
      hparams: every hyperparameter's value in this sweep.
      out_dir: the folder it was saved in, or ``None``.
      identity: the sweep's identity (:func:`sweep_identity`: training configuration,
        optimizer, base seed, environment) when saved or loaded, else ``None``.
    """

    table: dict[str, np.ndarray]
    curves: dict[str, np.ndarray]
    summary: dict
    hparams: dict[str, float]
    out_dir: Path | None = None
    identity: dict | None = None


def _progress(done: int, total: int, rate: float | None, compile_s: float | None, file) -> None:
    """One line, rewritten in place: seeds done, seeds/s and the time left, both measured
    after the first chunk (which compiles)."""
    bar = "#" * int(30 * done / total)
    if rate:
        speed = f"{rate:,.0f} seeds/s  eta {(total - done) / rate:,.0f}s"
    else:
        speed = "eta after the second chunk"
    extra = f"  (compile + first chunk {compile_s:.1f}s)" if compile_s is not None else ""
    print(
        f"\r[{bar:<30}] {done}/{total} seeds  {speed}{extra}   ",
        end="" if done < total else "\n",
        file=file,
        flush=True,
    )


#: Upper bound of a sweep's base seed: ``jax.random.key`` takes 32 bits without x64, so a
#: larger base seed would silently repeat a smaller one.
MAX_BASE_SEED = 2**32 - 1


def _available_bytes() -> int:
    """Memory the host can still give (``MemAvailable``), or its physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _device_bytes(device) -> int:
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - not every backend reports it
        pass
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    return _available_bytes()


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f}"


def check_sizes(train: Train, n_seeds: int, chunk_size: int, microbatch: int, devices) -> None:
    """Refuses, in one line that states the limit, a sweep whose per-seed results or whose
    chunk would not fit in memory (before anything is allocated or compiled)."""
    n_cols = len(train.hparams) + len(TABLE_FIELDS) + 1
    per_seed_host = 8 * (n_cols + 2 * train.n_evals) + 64  # table, curves, bookkeeping
    available = _available_bytes()
    if n_seeds * per_seed_host > available:
        raise ValueError(
            f"--seeds {n_seeds} needs about {_fmt_bytes(n_seeds * per_seed_host)} of host memory "
            f"for the per-seed results; at most {available // per_seed_host:,} seeds fit "
            f"({_fmt_bytes(available)} available)"
        )
    chunk = min(chunk_size, n_seeds)
    if chunk * (per_seed_host + 8) > available:
        raise ValueError(
            f"--chunk-size {chunk_size} needs about {_fmt_bytes(chunk * per_seed_host)} per "
            f"chunk; at most {available // (per_seed_host + 8):,} fit"
        )
    # On each device a microbatch of seeds trains at once: its data, test set, parameters,
    # gradients and optimizer state (a rough lower bound of what XLA will need).
    per_seed = train.data_bytes + 8 * train.param_bytes
    device = (devices or jax.devices())[0]
    limit = _device_bytes(device)
    if microbatch * per_seed > limit:
        raise ValueError(
            f"one microbatch of {microbatch} seeds needs at least "
            f"{_fmt_bytes(microbatch * per_seed)} on {device.platform} ({train.param_bytes:,} "
            f"bytes of parameters per seed), more than its {_fmt_bytes(limit)}: use a smaller "
            "model, a smaller microbatch or a bigger device"
        )


def sweep_identity(train: Train, base_seed: int, microbatch: int, hparams: Mapping) -> dict:
    """Everything that decides a sweep's per-seed results (what a resume must match): not the
    number of seeds, the chunk size or the number of devices or processes."""
    return {
        "kind": "sweep",
        "train": {**train.config.to_json(), "dtype": str(train.dtype)},
        "task": train.task.name,
        "optimizer": train.optimizer.name,
        "hparams": {k: float(v) for k, v in sorted(hparams.items())},
        "base_seed": base_seed,
        "microbatch": microbatch,
        "x64": train.dtype == np.float64,
        "environment": rundir.environment(),
    }


def _table_bytes_cap(n: int, n_cols: int) -> int:
    return 4096 + (n + 1) * 40 * n_cols


def _curves_bytes_cap(n: int, n_evals: int) -> int:
    return (1 << 16) + 16 * (2 * n + n_evals + 2 * n * n_evals)


def validate_table(
    t: Mapping[str, np.ndarray], train: Train, hparams: Mapping, n: int, name
) -> None:
    """Refuses a per-seed table that is not what this sweep writes: columns, types, seed order,
    hyperparameter values and the ranges and consistency of every outcome."""
    columns = ["seed", *sorted(hparams), *TABLE_FIELDS]
    if list(t) != columns:
        raise FileError(f"{name} does not have the columns this sweep writes")
    if len(t["seed"]) != n:
        raise FileError(f"{name} holds {len(t['seed'])} seeds, its manifest {n}")
    ints = ("seed", "converged", "steps_to_converge", "diverged", "diverged_step")
    for c in columns:
        want = "i" if c in ints else "f"
        if n and t[c].dtype.kind != want and not (want == "f" and t[c].dtype.kind == "i"):
            raise FileError(
                f"{name}: column {c!r} does not hold {'integers' if want == 'i' else 'numbers'}"
            )
    if not np.array_equal(t["seed"], np.arange(n)):
        raise FileError(f"{name} does not hold seeds 0..{n - 1} in order")
    for k, v in hparams.items():
        if not np.all(t[k] == np.float64(v)):
            raise FileError(f"{name}: column {k!r} does not hold this sweep's value {v:g}")
    conv, div = t["converged"], t["diverged"]
    steps, dstep, acc, loss = (
        t["steps_to_converge"],
        t["diverged_step"],
        t["accuracy"],
        t["final_loss"],
    )
    problems = [
        ("converged", ~np.isin(conv, (0, 1)), "0 or 1"),
        ("diverged", ~np.isin(div, (0, 1)), "0 or 1"),
        ("converged", (conv == 1) & (div == 1), "0 where diverged is 1"),
        ("accuracy", ~((acc >= 0) & (acc <= 1)), "in [0, 1]"),
        (
            "converged",
            (conv == 1) != ((acc >= train.task.criterion) & (div == 0)),
            "consistent with accuracy",
        ),
        (
            "steps_to_converge",
            ~np.isin(steps, [-1, *train.eval_updates]),
            "-1 or an evaluated update",
        ),
        ("steps_to_converge", (conv == 1) & (steps < 0), ">= 0 where converged"),
        ("diverged_step", ~((dstep >= -1) & (dstep < train.steps)), f"in [-1, {train.steps})"),
        ("diverged_step", (div == 1) != (dstep >= 0), ">= 0 exactly where diverged"),
        ("final_loss", (div == 0) & ~np.isfinite(loss), "finite where not diverged"),
    ]
    for column, bad, rule in problems:
        if np.any(bad):
            row = int(np.argmax(bad))
            raise FileError(f"{name}: {column!r} must be {rule} (row {row + 1})")


def load_sweep(path: str | Path | rundir.RunFolder, train: Train | None = None) -> SweepResult:
    """Reads a sweep folder back, verified: the checksums its writer recorded (and a size cap
    on every file), and, given the ``train`` it ran, the table's columns, types, ranges and
    consistency and the curves' shapes. What a resume reads; what analyses should read.

    Raises a one-line ``ValueError`` naming the file and what is wrong; nothing of a file's
    contents is echoed."""
    if isinstance(path, rundir.RunFolder):
        folder = path
    else:
        folder = rundir.RunFolder.existing(path)
        try:
            return load_sweep(folder, train)
        finally:
            folder.close()
    path = folder.path
    identity = folder.identity
    n = folder.seeds
    hp = identity.get("hparams", {}) if isinstance(identity, dict) else {}
    if not isinstance(hp, dict) or not all(isinstance(v, float | int) for v in hp.values()):
        raise FileError(f"{path / rundir.CONFIG} is not a sweep's identity")
    n_cols = len(hp) + len(TABLE_FIELDS) + 1
    table = io.parse_csv(folder.read(TABLE, _table_bytes_cap(n, n_cols)), str(path / TABLE))
    n_evals = train.n_evals if train is not None else None
    raw = folder.read(CURVES, _curves_bytes_cap(n, n_evals or 10**6))
    expect = (
        None
        if n_evals is None
        else {"seed": (n,), "update": (n_evals,), "loss": (n, n_evals), "accuracy": (n, n_evals)}
    )
    curves = io.parse_npz(raw, str(path / CURVES), expect)
    if train is not None:
        validate_table(table, train, hp, n, str(path / TABLE))
        if not np.array_equal(curves["seed"], np.arange(n)) or not np.array_equal(
            curves["update"], train.eval_updates
        ):
            raise FileError(f"{path / CURVES} does not cover the seeds and updates of {TABLE}")
    summary = {}
    if METRICS in folder.manifest["files"]:
        summary = json.loads(folder.read(METRICS, 1 << 20)).get("summary", {})
    return SweepResult(table, curves, summary, hp, path, identity)


def run_sweep(
    train: Train,
    n_seeds: int,
    *,
    base_seed: int = 0,
    chunk_size: int = 1000,
    hparams: Mapping[str, float] | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    devices=None,
    microbatch: int = DEFAULT_MICROBATCH,
    sweep: Sweep | None = None,
    on_start: Callable[[int], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> SweepResult:
    """Trains seeds ``0 .. n_seeds-1`` of ``train`` and returns a :class:`SweepResult`.

    Args:
      train: from :func:`rnn_jax.make_train`.
      n_seeds: how many seeds.
      base_seed: seed ``i`` trains from ``fold_in(key(base_seed), i)``; in ``[0, 2**32)``.
      chunk_size: seeds per compiled call (memory, progress and save granularity).
      hparams: values overriding ``train.hparams`` for this sweep (checked: names, ranges).
      out_dir: a results folder (:class:`rnn_jax._src.rundir.RunFolder`: locked while the sweep
        runs, its identity in ``config.json``, ``per_seed.csv`` and ``curves.npz`` committed
        with checksums after every chunk, ``metrics.json`` at the end).
      resume: continue the sweep in ``out_dir``: its identity must match (``n_seeds`` may
        grow), its files are verified, and the seeds saved are not run again.
      progress: a progress bar on stderr.
      devices, microbatch: see :class:`Sweep`.
      sweep: a compiled :class:`Sweep` of the same ``train`` to reuse (a grid does).
      on_start: called with the number of seeds already saved once the folder is open,
        just before the first chunk compiles (not called when nothing is left to run).
      on_chunk: called with the number of seeds saved after every chunk.

    Example:
      >>> import rnn_jax as rj
      >>> train = rj.make_train(rj.TrainConfig(n_train=200, epochs=2, eval_every=4, bits=3))
      >>> r = rj.run_sweep(train, 16, hparams={"learning_rate": 0.1}, progress=False,
      ...                  microbatch=8)
      >>> r.summary["seeds"], sorted(r.table)[:3]
      (16, ['accuracy', 'converged', 'decay'])
    """
    checks.check_positive_int("n_seeds", n_seeds)
    checks.check_positive_int("chunk_size", chunk_size)
    checks.check_positive_int("microbatch", microbatch)
    if (
        isinstance(base_seed, bool)
        or not isinstance(base_seed, int)
        or not (0 <= base_seed <= MAX_BASE_SEED)
    ):
        raise ValueError(f"base_seed (--seed) must be an int in [0, 2**32), got {base_seed!r}")
    if n_seeds > 2**32:
        raise ValueError(f"n_seeds must be <= 2**32 (seed indices are 32 bits), got {n_seeds}")
    full_hp = train.check_hparams(hparams or {})
    hp_columns = {k: float(v) for k, v in sorted(full_hp.items())}
    if sweep is None:
        check_sizes(train, n_seeds, chunk_size, microbatch, devices)
        sweep = Sweep(train, min(chunk_size, n_seeds), devices, microbatch)
    elif sweep.train is not train:
        raise ValueError("sweep was compiled for another train")
    writer = io.is_writer() and jax.process_index() == 0
    columns = ("seed", *hp_columns, *TABLE_FIELDS)
    done: dict[str, list[np.ndarray]] = {c: [] for c in (*columns, *CURVE_FIELDS)}
    folder, start, old_metrics, identity = None, 0, None, None
    if out_dir is not None:
        identity = sweep_identity(train, base_seed, sweep.microbatch, hp_columns)
        failure, saved = None, None
        try:
            folder = rundir.RunFolder(out_dir, identity, resume=resume, writer=writer)
            out_dir = folder.path
            start = folder.seeds
            if start > n_seeds:
                folder.close()
                raise ValueError(
                    f"{out_dir} holds {start} seeds; n_seeds {n_seeds} asks for fewer "
                    "(use the saved seeds with rnn_jax.load_sweep)"
                )
            if start:
                saved = load_sweep(folder, train)
                if METRICS in folder.manifest["files"]:
                    old_metrics = json.loads(folder.read(METRICS, 1 << 20))
        except (ValueError, OSError) as e:
            failure = e
        if jax.process_count() > 1:  # the others read nothing: process 0 tells them
            start, saved = _from_process_0(failure, start, saved, train, out_dir)
        elif failure is not None:
            raise failure
        if start:
            for c in columns:
                done[c].append(saved.table[c])
            done["loss_curve"].append(saved.curves["loss"])
            done["accuracy_curve"].append(saved.curves["accuracy"])
            if progress:
                print(f"resuming after {start} seeds already in {out_dir / TABLE}", file=sys.stderr)
    try:
        timing = _run_chunks(
            train,
            sweep,
            full_hp,
            hp_columns,
            base_seed,
            start,
            n_seeds,
            done,
            folder,
            progress,
            on_start,
            on_chunk,
        )
        table = {c: _concat(done[c], c) for c in columns}
        curves = _curve_arrays(
            table["seed"], _concat(done["loss_curve"]), _concat(done["accuracy_curve"]), train
        )
        summary = stats.summarize(table)
        if timing is None and old_metrics is not None:  # nothing ran: keep the recorded times
            timing = {k: old_metrics["summary"].get(k) for k in _TIMING}
        summary.update(timing or {})
        summary.update(devices=len(sweep.devices), chunk_size=sweep.chunk_size)
        if folder is not None:
            metrics = {"n_seeds": n_seeds, "hparams": hp_columns, "summary": summary}
            folder.commit({METRICS: io.json_bytes(metrics)}, seeds=n_seeds)
    finally:
        if folder is not None:
            folder.close()
    return SweepResult(table, curves, summary, hp_columns, out_dir, identity)


_TIMING = ("train_seconds", "first_chunk_seconds", "seeds_per_second")


def _from_process_0(failure, start: int, saved, train: Train, out_dir) -> tuple[int, Any]:
    """Multi-process runs: every process learns from process 0 (the only one that reads the
    results folder) whether it could open it, how many seeds are saved, and their results
    (the table and curves files' bytes, so every process continues from the same numbers)."""
    from jax.experimental import multihost_utils

    first = jax.process_index() == 0
    table_b = io.csv_bytes(saved.table) if first and saved is not None else b""
    curves_b = io.npz_bytes(**saved.curves) if first and saved is not None else b""
    header = np.array([failure is None, start, len(table_b), len(curves_b)], np.int32)
    header = np.asarray(multihost_utils.broadcast_one_to_all(header if first else 0 * header))
    if failure is not None:
        raise failure
    if not header[0]:
        raise ValueError(
            f"process 0 could not open the results folder {out_dir} (its message says why)"
        )
    start, n_table, n_curves = (int(v) for v in header[1:])
    if not start:
        return 0, None
    payload = (
        np.frombuffer(table_b + curves_b, np.uint8)
        if first
        else np.zeros(n_table + n_curves, np.uint8)
    )
    payload = np.asarray(multihost_utils.broadcast_one_to_all(payload)).tobytes()
    if first:
        return start, saved
    table = io.parse_csv(payload[:n_table], TABLE)
    curves = io.parse_npz(payload[n_table:], CURVES)
    return start, SweepResult(table, curves, {}, {}, None)


def _concat(parts, column=None) -> np.ndarray:
    if not parts:
        return np.zeros((0,), np.int64 if column == "seed" else np.float64)
    return np.concatenate(parts)


def _run_chunks(
    train,
    sweep,
    full_hp,
    hp_columns,
    base_seed,
    start,
    n_seeds,
    done,
    folder,
    progress,
    on_start,
    on_chunk,
) -> dict | None:
    """Runs the seeds ``start .. n_seeds-1`` in chunks, committing each; returns the timings,
    or ``None`` if there was nothing to run."""
    if start >= n_seeds:
        return None
    if progress:
        print(
            f"compiling {train.task.name} / {train.optimizer.name} and running the first "
            f"{min(sweep.chunk_size, n_seeds - start)} seeds ...",
            file=sys.stderr,
            flush=True,
        )
    if on_start is not None:
        on_start(start)
    started = time.perf_counter()
    compile_s, train_s, timed = None, 0.0, 0
    for lo in range(start, n_seeds, sweep.chunk_size):
        chunk = np.arange(lo, min(lo + sweep.chunk_size, n_seeds))
        t0 = time.perf_counter()
        out = sweep(seed_keys(base_seed, chunk), full_hp)
        dt = time.perf_counter() - t0
        if compile_s is None:
            compile_s = dt
        else:
            train_s, timed = train_s + dt, timed + len(chunk)
        done["seed"].append(chunk.astype(np.int64))
        for k, v in hp_columns.items():
            done[k].append(np.full(len(chunk), v))
        for c in TABLE_FIELDS:
            done[c].append(
                np.asarray(out[c]).astype(np.int64 if out[c].dtype.kind in "bi" else np.float64)
            )
        for f in CURVE_FIELDS:
            done[f].append(np.asarray(out[f], np.float64))
        n_done = lo + len(chunk)
        if folder is not None:
            table = {c: _concat(done[c]) for c in ("seed", *hp_columns, *TABLE_FIELDS)}
            curves = _curve_arrays(
                table["seed"], _concat(done["loss_curve"]), _concat(done["accuracy_curve"]), train
            )
            folder.commit(
                {TABLE: io.csv_bytes(table), CURVES: io.npz_bytes(**curves)}, seeds=n_done
            )
        if progress:
            rate = timed / train_s if timed and train_s > 0 else None
            _progress(n_done - start, n_seeds - start, rate, compile_s, sys.stderr)
        if on_chunk is not None:
            on_chunk(n_done)
    return {
        "train_seconds": time.perf_counter() - started,
        "first_chunk_seconds": compile_s,
        "seeds_per_second": timed / train_s if timed and train_s > 0 else None,
    }


def _curve_arrays(seeds, loss, accuracy, train: Train) -> dict[str, np.ndarray]:
    n_evals = train.n_evals
    return {
        "seed": np.asarray(seeds, np.int64),
        "update": np.asarray(train.eval_updates, np.int64),
        "loss": np.asarray(loss, np.float64).reshape(-1, n_evals),
        "accuracy": np.asarray(accuracy, np.float64).reshape(-1, n_evals),
    }


# --------------------------------------------------------------------------- grids


def grid_points(grid: Mapping[str, Sequence[float]] | Sequence[Mapping[str, float]]) -> list[dict]:
    """A grid as a list of points: a mapping of value lists is its cartesian product (in the
    order given, the last key varying fastest); a list of mappings is taken as it is."""
    if isinstance(grid, Mapping):
        keys = list(grid)
        for k in keys:
            if isinstance(grid[k], str) or not isinstance(grid[k], Sequence) or not grid[k]:
                raise ValueError(f"grid[{k!r}] must be a non-empty list of values")
        return [dict(zip(keys, values)) for values in itertools.product(*grid.values())]
    points = [dict(p) for p in grid]
    if not points:
        raise ValueError("grid must hold at least one point")
    return points


def point_name(point: Mapping[str, float]) -> str:
    """A folder name for a grid point: ``learning_rate=0.1,b1=0.9``."""
    return ",".join(f"{k}={v:g}" for k, v in point.items()) or "default"


def run_grid(
    train: Train,
    n_seeds: int,
    grid,
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    chunk_size: int = 1000,
    devices=None,
    microbatch: int = DEFAULT_MICROBATCH,
    **sweep_kwargs,
) -> list[SweepResult]:
    """:func:`run_sweep` at every point of a hyperparameter grid, all on **one** compiled
    :class:`Sweep` (the hyperparameters are traced): per-seed results are those of running
    each point alone. With ``out_dir``, point ``p`` is saved in ``out_dir/<point_name(p)>/``.

    Example:
      >>> import rnn_jax as rj
      >>> train = rj.make_train(rj.TrainConfig(n_train=200, epochs=2, eval_every=4, bits=3))
      >>> rs = rj.run_grid(train, 8, {"learning_rate": [0.01, 0.1]}, progress=False,
      ...                  microbatch=8)
      >>> [r.hparams["learning_rate"] for r in rs]
      [0.01, 0.1]
    """
    points = grid_points(grid)
    for p in points:  # every point checked before anything compiles
        train.check_hparams(p)
    base_seed = sweep_kwargs.get("base_seed", 0)
    if (
        isinstance(base_seed, bool)
        or not isinstance(base_seed, int)
        or not (0 <= base_seed <= MAX_BASE_SEED)
    ):
        raise ValueError(f"base_seed (--seed) must be an int in [0, 2**32), got {base_seed!r}")
    checks.check_positive_int("n_seeds", n_seeds)
    checks.check_positive_int("chunk_size", chunk_size)
    check_sizes(train, n_seeds, chunk_size, microbatch, devices)
    if out_dir is not None:
        out_dir = io.real_folder(out_dir, "out_dir")
    sweep = Sweep(train, min(chunk_size, n_seeds), devices, microbatch)
    results = []
    for p in points:
        if progress:
            print(f"{train.optimizer.name}: {point_name(p)}", file=sys.stderr)
        out = None if out_dir is None else Path(out_dir) / point_name(p)
        results.append(
            run_sweep(
                train,
                n_seeds,
                hparams=p,
                out_dir=out,
                resume=resume,
                progress=progress,
                sweep=sweep,
                chunk_size=chunk_size,
                **sweep_kwargs,
            )
        )
    return results
