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
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rnn_jax._src import checks, io, stats
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

    def memory_bytes(self, hparams: Mapping[str, Any] | None = None) -> int | None:
        """Bytes XLA reserves to run one chunk (temporaries + arguments + outputs), from the
        compiled executable's memory analysis; ``None`` where the backend does not report it."""
        try:
            with self.train.precision():
                keys = self._global_keys(seed_keys(0, np.arange(1)))
                ma = self._run.lower(keys, self._hparams(hparams)).compile().memory_analysis()
            return int(ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes)
        except Exception:  # noqa: BLE001 - memory analysis is optional per backend
            return None

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
    """

    table: dict[str, np.ndarray]
    curves: dict[str, np.ndarray]
    summary: dict
    hparams: dict[str, float]
    out_dir: Path | None = None


def _progress(done: int, total: int, started: float, compile_s: float | None, file) -> None:
    elapsed = time.perf_counter() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else float("inf")
    extra = f", first chunk incl. compile {compile_s:.1f}s" if compile_s is not None else ""
    bar = "#" * int(30 * done / total)
    print(
        f"\r[{bar:<30}] {done}/{total} seeds  {rate:,.0f} seeds/s  eta {eta:,.0f}s{extra}   ",
        end="" if done < total else "\n",
        file=file,
        flush=True,
    )


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
    on_chunk: Callable[[int], None] | None = None,
) -> SweepResult:
    """Trains seeds ``0 .. n_seeds-1`` of ``train`` and returns a :class:`SweepResult`.

    Args:
      train: from :func:`rnn_jax.make_train`.
      n_seeds: how many seeds.
      base_seed: seed ``i`` trains from ``fold_in(key(base_seed), i)``.
      chunk_size: seeds per compiled call (memory, progress and save granularity).
      hparams: values overriding ``train.hparams`` for this sweep (checked: names, ranges).
      out_dir: a folder for ``config.json``, ``per_seed.csv`` and ``curves.npz`` (saved after
        every chunk); one that already holds a table is continued with ``resume=True`` and
        refused otherwise.
      resume: continue the sweep in ``out_dir``.
      progress: a progress bar on stderr.
      devices, microbatch: see :class:`Sweep`.
      sweep: a compiled :class:`Sweep` of the same ``train`` to reuse (a grid does).
      on_chunk: called with the number of seeds done after every chunk.

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
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise ValueError(f"base_seed must be an int >= 0, got {base_seed!r}")
    full_hp = train.check_hparams(hparams or {})
    if sweep is None:
        sweep = Sweep(train, min(chunk_size, n_seeds), devices, microbatch)
    elif sweep.train is not train:
        raise ValueError("sweep was compiled for another train")
    hp_columns = {k: float(v) for k, v in sorted(full_hp.items())}
    # The sweep's identity: what decides every seed's result (not the chunk or device count).
    settings = {
        "n_seeds": n_seeds,
        "base_seed": base_seed,
        "microbatch": sweep.microbatch,
        "hparams": hp_columns,
        "train": train.config.to_json(),
    }
    writer = jax.process_index() == 0
    columns = ("seed", *hp_columns, *TABLE_FIELDS)
    table: dict[str, list] = {c: [] for c in columns}
    curves: dict[str, list] = {f: [] for f in CURVE_FIELDS}
    if out_dir is not None:
        out_dir = Path(out_dir)
        table, curves = _open_run_dir(out_dir, settings, columns, resume, writer)
    start = len(table["seed"])
    if start and progress:
        print(f"resuming after {start} seeds already in {out_dir / TABLE}", file=sys.stderr)
    seeds = np.arange(n_seeds)
    started = time.perf_counter()
    compile_s = None
    train_s = 0.0
    for lo in range(start, n_seeds, sweep.chunk_size):
        chunk = seeds[lo : lo + sweep.chunk_size]
        t0 = time.perf_counter()
        out = sweep(seed_keys(base_seed, chunk), full_hp)
        dt = time.perf_counter() - t0
        if compile_s is None:
            compile_s = dt
        else:
            train_s += dt
        table["seed"].extend(chunk.tolist())
        for k, v in hp_columns.items():
            table[k].extend([v] * len(chunk))
        for c in TABLE_FIELDS:
            table[c].extend(out[c].tolist())
        for f in CURVE_FIELDS:
            curves[f].extend(out[f])
        if out_dir is not None and writer:
            # Curves first, table last: the table is the record of what is done, so after a
            # kill between the two writes the curves hold at least every seed in the table.
            io.write_npz(out_dir / CURVES, **_curve_arrays(table["seed"], curves, train))
            io.write_csv(out_dir / TABLE, table)
        if progress:
            _progress(len(table["seed"]) - start, n_seeds - start, started, compile_s, sys.stderr)
        if on_chunk is not None:
            on_chunk(len(table["seed"]))
    arrays = {k: np.asarray(v) for k, v in table.items()}
    summary = stats.summarize(arrays)
    done_now = n_seeds - start
    timed = done_now - min(sweep.chunk_size, done_now)
    summary.update(
        train_seconds=time.perf_counter() - started,
        first_chunk_seconds=compile_s,
        seeds_per_second=(timed / train_s) if timed and train_s > 0 else None,
        devices=len(sweep.devices),
        chunk_size=sweep.chunk_size,
    )
    curve_arrays = _curve_arrays(table["seed"], curves, train)
    return SweepResult(arrays, curve_arrays, summary, hp_columns, out_dir)


def _curve_arrays(seeds, curves, train: Train) -> dict[str, np.ndarray]:
    n_evals = train.n_evals
    return {
        "seed": np.asarray(seeds, np.int64),
        "update": np.asarray(train.eval_updates, np.int64),
        "loss": np.asarray(curves["loss_curve"]).reshape(-1, n_evals),
        "accuracy": np.asarray(curves["accuracy_curve"]).reshape(-1, n_evals),
    }


def _open_run_dir(out_dir: Path, settings: dict, columns, resume: bool, writer: bool):
    table: dict[str, list] = {c: [] for c in columns}
    curves: dict[str, list] = {f: [] for f in CURVE_FIELDS}
    cfg_path = out_dir / CONFIG
    saved = io.read_json(cfg_path) if cfg_path.exists() else None
    want = io.to_jsonable(settings)
    if (out_dir / TABLE).exists():
        if not resume:
            raise ValueError(
                f"out_dir {out_dir} already holds a sweep ({TABLE}); pass resume=True "
                "(--resume) to continue it, or choose another --out"
            )
        if saved is not None and saved != want:
            diff = sorted(k for k in set(saved) | set(want) if saved.get(k) != want.get(k))
            raise ValueError(
                f"out_dir {out_dir} holds a different configuration (differs in {diff}); "
                "refusing to resume into it"
            )
        old = io.read_csv(out_dir / TABLE)
        n = len(old["seed"])
        if not np.array_equal(old["seed"], np.arange(n)):
            raise ValueError(f"{out_dir / TABLE} does not hold seeds 0..{n - 1} in order")
        table = {k: old[k].tolist() for k in table}
        if (out_dir / CURVES).exists():
            saved_curves = io.read_npz(out_dir / CURVES)
            if np.array_equal(saved_curves["seed"][:n], np.arange(n)):
                curves = {
                    "loss_curve": list(saved_curves["loss"][:n]),
                    "accuracy_curve": list(saved_curves["accuracy"][:n]),
                }
        if len(curves["loss_curve"]) != n:
            raise ValueError(
                f"{out_dir / CURVES} does not cover the seeds in {TABLE}; delete both to restart"
            )
    elif saved is not None and saved != want and resume:
        raise ValueError(f"out_dir {out_dir} holds a different configuration")
    if writer:
        io.write_json(cfg_path, settings)
    return table, curves


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
