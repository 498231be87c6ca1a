"""The engine: one training run compiled for a chunk of seeds and sharded over devices.

* Seed ``i`` trains from ``fold_in(key(base_seed), i)`` (:func:`seed_keys`): the same data and
  initial network whatever the optimizer or hyperparameters (seeds are *paired*), and a result
  that does not depend on the chunk size, the chunk it falls in, or the number of devices.
* Every chunk has the same shape (the last is padded and the padding dropped), and every
  hyperparameter is a traced argument, so a sweep compiles once for any number of seeds and any
  grid of hyperparameter values.
* Bit-for-bit reproducibility: every seed trains inside a ``vmap`` of exactly ``microbatch``
  seeds, at position ``seed % microbatch`` (why: ``docs/performance.md``); each device runs
  ``lax.map`` over its microbatches (``shard_map``), and chunks are multiples of
  ``microbatch x devices``.
* The seed axis is sharded over the devices with a 1-D ``Mesh``; over several processes
  (``jax.distributed``) the keys are laid out with ``make_array_from_callback`` and the results
  gathered with ``process_allgather``.
* Before anything is allocated or compiled, :func:`check_sizes` refuses a sweep whose results
  or whose microbatch would not fit in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rnn_jax._src import checks
from rnn_jax._src.train import Outcome, Train

#: Seeds per ``vmap`` unless a sweep says otherwise; part of a sweep's identity.
DEFAULT_MICROBATCH = 64

#: What leaves the device for each seed: every field of an Outcome but the final parameters.
OUTCOME_FIELDS = tuple(f for f in Outcome._fields if f != "params")

#: Upper bound of a sweep's base seed: ``jax.random.key`` takes 32 bits without x64, so a
#: larger base seed would silently repeat a smaller one.
MAX_BASE_SEED = 2**32 - 1


def check_train(train) -> None:
    """Refuses anything but what :func:`rnn_jax.make_train` returns, in one line."""
    if not isinstance(train, Train):
        raise TypeError(f"train must come from rnn_jax.make_train, got {type(train).__name__}")


def check_base_seed(base_seed) -> int:
    """A base seed in ``[0, 2**32)``; anything else is one line naming ``--seed``."""
    if (
        isinstance(base_seed, bool)
        or not isinstance(base_seed, int | np.integer)
        or not (0 <= base_seed <= MAX_BASE_SEED)
    ):
        raise ValueError(f"base_seed (--seed) must be an int in [0, 2**32), got {base_seed!r}")
    return int(base_seed)


def seed_keys(base_seed: int, seeds: np.ndarray) -> np.ndarray:
    """Raw key data of ``fold_in(key(base_seed), i)`` for each seed index ``i``.

    Args:
      base_seed: in ``[0, 2**32)``.
      seeds: seed indices, shape ``(n,)``.

    Returns:
      ``uint32[n, 2]``: the keys of those seeds.
    """
    base = jax.random.key(base_seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(np.asarray(seeds, np.uint32))
    return np.asarray(jax.random.key_data(keys))


def executable_bytes(compiled: jax.stages.Compiled) -> int | None:
    """Bytes XLA reserves to run a compiled program (temporaries + arguments + outputs), from
    its memory analysis; ``None`` where the backend does not report it.

    Args:
      compiled: a compiled program (``jax.jit(f).trace(x).lower().compile()``).

    Returns:
      The bytes, or ``None``.

    Example:
      >>> import jax, jax.numpy as jnp, rnn_jax.runs as runs
      >>> compiled = jax.jit(lambda x: 2 * x).trace(jnp.ones(1024)).lower().compile()
      >>> runs.executable_bytes(compiled) >= 2 * 4096
      True
    """
    try:
        ma = compiled.memory_analysis()
        return int(ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes)
    except Exception:  # noqa: BLE001 - memory analysis is optional per backend
        return None


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
    # the table (a seed column, the hyperparameters, the outcomes), the curves, bookkeeping
    per_seed_host = 8 * (len(train.hparams) + 1 + len(OUTCOME_FIELDS) + 2 * train.n_evals) + 64
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


class Sweep:
    """One training run compiled for a fixed chunk of seeds, sharded over devices.

    Every call passes every hyperparameter of ``train`` as a traced argument, so one compiled
    sweep serves any values: a grid over them compiles once.

    Args:
      train: from :func:`rnn_jax.make_train`.
      chunk_size: seeds per call; rounded up to a multiple of ``microbatch x devices``.
      devices: defaults to ``jax.devices()``.
      microbatch: seeds per ``vmap`` (see the module docstring); part of a sweep's identity.
      cache: a :class:`rnn_jax.runs.ExecutableCache`: the compiled chunk is loaded from it
        (verified) when it holds this very program, and stored in it when compiled.
    """

    def __init__(
        self,
        train: Train,
        chunk_size: int,
        devices=None,
        microbatch: int = DEFAULT_MICROBATCH,
        cache=None,
    ):
        check_train(train)
        checks.check_positive_int("chunk_size", chunk_size)
        checks.check_positive_int("microbatch", microbatch)
        self.train = train
        self.devices = list(jax.devices() if devices is None else devices)
        unit = microbatch * len(self.devices)
        self.microbatch = microbatch
        self.chunk_size = -(-chunk_size // unit) * unit
        self.cache = cache
        self._compiled, self._loaded = None, False
        self.mesh = Mesh(np.array(self.devices), ("seeds",))
        spec = PartitionSpec("seeds")
        self.sharding = NamedSharding(self.mesh, spec)
        keep = OUTCOME_FIELDS

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

    def cache_key(self) -> dict | None:
        """Everything the compiled chunk depends on: the training run (its task and optimizer
        fingerprinted), the hyperparameters' names and dtype, the chunking, the devices and the
        environment (code, versions, CPU, ``XLA_FLAGS``); ``None`` when the training run
        cannot be described (then it is never cached)."""
        from rnn_jax._src.runs import identity

        train = self.train
        try:
            settings = identity.train_identity(train)
            task = identity.describe(train.task, "task")
            optimizer = identity.describe(train.optimizer, "optimizer")
        except ValueError:
            return None
        return {
            "train": settings,
            "task": task,
            "optimizer": optimizer,
            "hparams": sorted(train.hparams),
            "dtype": str(train.dtype),
            "chunk_size": self.chunk_size,
            "microbatch": self.microbatch,
            "devices": [[d.id, d.platform, d.device_kind, d.process_index] for d in self.devices],
            "processes": jax.process_count(),
            "environment": identity.environment(),
            "platform_version": self.devices[0].client.platform_version,
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
        }

    def _executable(self, keys, hp, reload: bool = True) -> jax.stages.Compiled:
        """The chunk's program: loaded from the cache (verified) or compiled (and stored)."""
        if self._compiled is None:
            key = self.cache_key() if self.cache is not None else None
            self._loaded = False
            if key is not None and reload:
                in_tree = jax.tree.structure(((keys, hp), {}))
                out_tree = jax.tree.structure({f: 0 for f in OUTCOME_FIELDS})
                self._compiled = self.cache.load(key, in_tree, out_tree, self.devices)
                self._loaded = self._compiled is not None
            if self._compiled is None:
                lowered = self._run.trace(keys, hp).lower()
                if key is None:
                    self._compiled = lowered.compile()
                else:  # compiled afresh: a program JAX loaded from its own cache serializes
                    # without its code on CPU, and would fail when loaded back
                    self._compiled = _without_jax_cache(lowered.compile)
                    self.cache.store(key, self._compiled)
        return self._compiled

    def compile(self, hparams: Mapping[str, Any] | None = None) -> jax.stages.Compiled:
        """Traces, lowers and compiles one chunk ahead of time, as the first call does (or
        loads it from the cache). The result's ``memory_analysis()`` and ``cost_analysis()``
        describe the executable."""
        with self.train.precision():
            keys = self._global_keys(seed_keys(0, np.arange(1)))
            return self._executable(keys, self._hparams(hparams))

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
        """Runs one chunk; ``key_data`` (``uint32[n, 2]``, :func:`seed_keys`) has at most
        ``chunk_size`` rows. Returns host arrays, one row per seed: every field of
        :class:`rnn_jax.Outcome` but ``params``."""
        n = key_data.shape[0]
        hp = self._hparams(hparams)
        with self.train.precision():
            keys = self._global_keys(key_data)
            try:
                out = self._executable(keys, hp)(keys, hp)
            except jax.errors.JaxRuntimeError as e:
                if not self._loaded:
                    raise
                # a loaded program that cannot run (its code incomplete): compile it afresh
                self.cache.discard(self.cache_key(), " ".join(str(e).split())[:120])
                self._compiled = None
                out = self._executable(keys, hp, reload=False)(keys, hp)
            if jax.process_count() > 1:
                from jax.experimental import multihost_utils

                out = multihost_utils.process_allgather(out, tiled=True)
            return {k: np.asarray(v)[:n] for k, v in out.items()}


def _without_jax_cache(compile_fn):
    """``compile_fn()`` with JAX's own persistent cache off for its duration."""
    was = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    try:
        return compile_fn()
    finally:
        jax.config.update("jax_enable_compilation_cache", was)
