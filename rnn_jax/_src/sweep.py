"""Seed sweeps: ``train`` over many seeds in chunks, sharded over devices, resumable.

* Seed ``i`` trains from ``fold_in(key(base_seed), i)``: its result does not depend on the chunk
  size, the chunk it falls in, or the number of devices.
* Every chunk has the same shape (the last is padded and the padding dropped), so the jitted
  function compiles once.
* Bit-for-bit reproducibility: XLA:CPU vectorizes a ``vmap`` of width 5 differently from one of
  width 8 (vector body vs scalar remainder, FMA or not), which moves float32 results by an ulp and
  can flip a borderline seed. So every seed is trained inside a ``vmap`` of exactly
  ``microbatch`` seeds, at position ``seed % microbatch``: each device runs ``lax.map`` over its
  microbatches (``shard_map``), and chunks are multiples of ``microbatch x devices``.
* The seed axis is sharded over ``jax.devices()`` with a 1-D ``Mesh`` and ``NamedSharding``.
  On several hosts, call ``jax.distributed.initialize()`` first in every process: the mesh then
  spans all hosts' devices, the keys are laid out with ``make_array_from_callback`` and the
  results gathered with ``process_allgather``; only process 0 writes files.
* After each chunk the per-seed table (``per_seed.csv``) and loss curves (``curves.npz``) are
  rewritten atomically with every seed so far, so a killed sweep loses at most the chunk in
  flight, and ``resume=True`` continues after the last saved chunk.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rnn_jax._src import checks, io, stats
from rnn_jax._src.train import TABLE_FIELDS, Outcome

TABLE = "per_seed.csv"
CURVES = "curves.npz"
CONFIG = "config.json"
COLUMNS = TABLE_FIELDS


def seed_keys(base_seed: int, seeds: np.ndarray) -> np.ndarray:
    """Raw ``uint32[2]`` key data of ``fold_in(key(base_seed), i)`` for each seed index ``i``."""
    base = jax.random.key(base_seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.asarray(seeds, jnp.uint32))
    return np.asarray(jax.random.key_data(keys))


DEFAULT_MICROBATCH = 64


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

    checks.check_positive_int("count", (os.cpu_count() or 1) if count is None else count)
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return False
    if jax.config.jax_num_cpu_devices != -1:
        return False
    try:
        jax.config.update("jax_num_cpu_devices", (os.cpu_count() or 1) if count is None else count)
    except RuntimeError:  # the backends are up: too late
        return False
    return True


class Sweep:
    """A compiled training of a fixed chunk of seeds, sharded over ``devices``.

    Args:
      train: ``train(key, hparams) -> Outcome`` from :func:`rnn_jax.train.make_train`.
      chunk_size: seeds per call; rounded up to a multiple of ``microbatch x devices``.
      devices: defaults to ``jax.devices()``.
      microbatch: seeds per ``vmap`` (see the module docstring); part of a sweep's identity.
    """

    def __init__(
        self, train: Callable, chunk_size: int, devices=None, microbatch: int = DEFAULT_MICROBATCH
    ):
        checks.check_positive_int("chunk_size", chunk_size)
        checks.check_positive_int("microbatch", microbatch)
        self.devices = list(jax.devices() if devices is None else devices)
        nd = len(self.devices)
        unit = microbatch * nd
        self.microbatch = microbatch
        self.chunk_size = -(-chunk_size // unit) * unit
        self.mesh = Mesh(np.array(self.devices), ("seeds",))
        spec = PartitionSpec("seeds")
        self.sharding = NamedSharding(self.mesh, spec)

        def local(key_data, hparams):  # this device's seeds, in microbatches
            keys = jax.random.wrap_key_data(key_data)
            keys = keys.reshape((-1, microbatch))
            micro = jax.vmap(train, in_axes=(0, None))
            # Only the per-seed numbers leave the device; XLA drops the final parameters.
            out = jax.lax.map(lambda k: micro(k, hparams)._replace(params=None), keys)
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

    def memory_bytes(self, hparams: dict[str, Any] | None = None) -> int | None:
        """Bytes XLA reserves to run one chunk (temporaries + arguments + outputs), from the
        compiled executable's memory analysis; ``None`` where the backend does not report it."""
        keys = self._global_keys(seed_keys(0, np.arange(1)))
        hp = {} if hparams is None else {k: jnp.asarray(v) for k, v in hparams.items()}
        try:
            ma = self._run.lower(keys, hp).compile().memory_analysis()
            return int(ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes)
        except Exception:  # noqa: BLE001 - memory analysis is optional per backend
            return None

    def __call__(self, key_data: np.ndarray, hparams: dict[str, Any] | None = None) -> Outcome:
        """Runs one chunk; ``key_data`` has at most ``chunk_size`` rows. Returns host arrays."""
        n = key_data.shape[0]
        global_keys = self._global_keys(key_data)
        hp = {} if hparams is None else {k: jnp.asarray(v) for k, v in hparams.items()}
        out = self._run(global_keys, hp)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            out = multihost_utils.process_allgather(out, tiled=True)
        return jax.tree.map(lambda a: np.asarray(a)[:n], out)


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
    train: Callable,
    n_seeds: int,
    *,
    base_seed: int = 0,
    chunk_size: int = 1000,
    hparams: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    config: dict | None = None,
    resume: bool = False,
    progress: bool = True,
    devices=None,
    microbatch: int = DEFAULT_MICROBATCH,
    on_chunk: Callable[[int], None] | None = None,
) -> dict:
    """Trains seeds ``0 .. n_seeds-1`` and returns ``{"table", "curves", "summary", ...}``.

    With ``out_dir``: writes ``config.json`` (``config`` plus the sweep's own settings), then
    after every chunk ``per_seed.csv`` and ``curves.npz`` atomically. If ``out_dir`` already holds
    a table, ``resume=True`` continues it (its config must be identical) and ``resume=False``
    refuses to overwrite it.
    """
    checks.check_positive_int("n_seeds", n_seeds)
    checks.check_positive_int("chunk_size", chunk_size)
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise ValueError(f"base_seed must be an int >= 0, got {base_seed!r}")
    sweep = Sweep(train, chunk_size, devices, microbatch)
    # The sweep's identity: what decides every seed's result (not the chunk or device count).
    settings = {
        "n_seeds": n_seeds,
        "base_seed": base_seed,
        "microbatch": microbatch,
        "hparams": hparams,
        "train": config or {},
    }
    writer = jax.process_index() == 0
    table: dict[str, list] = {"seed": [], **{c: [] for c in COLUMNS}}
    curves: list[np.ndarray] = []
    if out_dir is not None:
        out_dir = Path(out_dir)
        table, curves = _open_run_dir(out_dir, settings, resume, writer)
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
        out = sweep(seed_keys(base_seed, chunk), hparams)
        dt = time.perf_counter() - t0
        if compile_s is None:
            compile_s = dt
        else:
            train_s += dt
        table["seed"].extend(chunk.tolist())
        for c in COLUMNS:
            table[c].extend(np.asarray(getattr(out, c)).tolist())
        curves.extend(np.asarray(out.loss_curve))
        if out_dir is not None and writer:
            # Curves first, table last: the table is the record of what is done, so after a
            # kill between the two writes the curves hold at least every seed in the table.
            io.write_npz(
                out_dir / CURVES, seed=np.asarray(table["seed"]), loss_curve=np.stack(curves)
            )
            io.write_csv(out_dir / TABLE, table)
        if progress:
            _progress(len(table["seed"]) - start, n_seeds - start, started, compile_s, sys.stderr)
        if on_chunk is not None:
            on_chunk(len(table["seed"]))
    arrays = {k: np.asarray(v) for k, v in table.items()}
    summary = stats.summarize(arrays)
    done_now = n_seeds - start
    first_chunk = min(sweep.chunk_size, done_now)
    timed = done_now - first_chunk
    summary.update(
        train_seconds=time.perf_counter() - started,
        first_chunk_seconds=compile_s,
        seeds_per_second=(timed / train_s) if timed and train_s > 0 else None,
        devices=len(sweep.devices),
        chunk_size=sweep.chunk_size,
    )
    return {"table": arrays, "curves": np.stack(curves) if curves else None, "summary": summary}


def _open_run_dir(out_dir: Path, settings: dict, resume: bool, writer: bool):
    table: dict[str, list] = {"seed": [], **{c: [] for c in COLUMNS}}
    curves: list[np.ndarray] = []
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
                curves = list(saved_curves["loss_curve"][:n])
        if len(curves) != n:
            raise ValueError(
                f"{out_dir / CURVES} does not cover the seeds in {TABLE}; delete both to restart"
            )
    elif saved is not None and saved != want and resume:
        raise ValueError(f"out_dir {out_dir} holds a different configuration")
    if writer:
        io.write_json(cfg_path, settings)
    return table, curves
