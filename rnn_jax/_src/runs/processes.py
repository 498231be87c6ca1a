"""This process's place in a run: one owner of process state, passed down explicitly.

A :class:`Processes` value says how many processes run the command, which one this is and
whether it writes results (process 0 alone reads and writes the results folder), and records
the results folders this process opened for writing (what an interrupt or a failure reports).
JAX's own runtime is the source of truth for the first three: :meth:`Processes.current` reads
it, :meth:`Processes.join` joins a multi-process run (``jax.distributed``, CPU collectives over
gloo) and returns the value the rest of the run is given. No module-level state.

Several processes on one sweep: each chunk of seeds is sharded over every process's devices and
the results are gathered on all of them; before the first chunk every process proves that it
runs the same run (:meth:`Processes.agree`), so a process given other settings stops every
process with one line instead of writing a mixed table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re

import numpy as np

from rnn_jax._src import checks
from rnn_jax._src.runs import files, rendezvous
from rnn_jax._src.runs.identity import differences

#: Environment variables that mean a cluster launcher started this process among several
#: (``jax.distributed.initialize()`` reads the rest of its settings from them).
CLUSTER_VARIABLES = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "JAX_NUM_PROCESSES")

#: Where those launchers put this process's index.
RANK_VARIABLES = ("SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "JAX_PROCESS_ID")


class ProcessesDisagree(ValueError):
    """The processes of one run were given different settings (raised on every process)."""


def use_cpu_cores(count: int | None = None) -> bool:
    """Exposes the host's cores to JAX as ``count`` CPU devices (default: all cores), so that
    a sweep shards its seeds over them like over several GPUs.

    Sets ``jax_num_cpu_devices``, which only takes effect before JAX starts its backends: an
    entry point calls it first thing (it changes global JAX state, so the library never does).
    Results do not depend on the device count.

    Args:
      count: how many CPU devices (``>= 1``); ``None``: ``os.cpu_count()``.

    Returns:
      Whether it was applied (``False`` if the backends are already up, or the device count
      was already chosen through ``XLA_FLAGS`` or the config).
    """
    import jax

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


def _parse_address(address: str) -> tuple[str, int]:
    m = re.fullmatch(r"\[?([A-Za-z0-9._:-]+?)\]?:(\d{1,5})", str(address).strip())
    if m is None or not 1 <= int(m.group(2)) <= 65535:
        raise ValueError(f"--coordinator must be HOST:PORT (port 1-65535), got {address!r}")
    return m.group(1), int(m.group(2))


def _launched_by_cluster() -> bool:
    for name in CLUSTER_VARIABLES:
        try:
            if int(os.environ.get(name, "1")) > 1:
                return True
        except ValueError:
            pass
    return False


def _check_process_flags(num_processes, process_id) -> None:
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"--num-processes must be an int >= 1, got {num_processes!r}")
    if (
        isinstance(process_id, bool)
        or not isinstance(process_id, int)
        or not (0 <= process_id < num_processes)
    ):
        raise ValueError(
            f"--process-id must be in [0, {num_processes}) for --num-processes "
            f"{num_processes}, got {process_id!r}"
        )


@dataclasses.dataclass
class Processes:
    """How many processes run this command, which one this is, and what it saved.

    Attributes:
      count: the number of processes (1: a plain single-process run).
      index: this process's index in ``[0, count)``.
      folders: ``(path, seeds saved)`` of the results folders this process opened for
        writing, most recent last, kept up to date by :class:`rnn_jax.runs.RunFolder`.

    Example:
      >>> import rnn_jax.runs as runs
      >>> p = runs.Processes.current()
      >>> p.count, p.index, p.writer
      (1, 0, True)
    """

    count: int = 1
    index: int = 0
    folders: list = dataclasses.field(default_factory=list)

    @property
    def writer(self) -> bool:
        """Only process 0 reads and writes results folders."""
        return self.index == 0

    @classmethod
    def current(cls) -> Processes:
        """This process as JAX's runtime sees it (one process unless ``jax.distributed`` was
        initialized)."""
        import jax

        if not jax.distributed.is_initialized():
            return cls()
        return cls(jax.process_count(), jax.process_index())

    @classmethod
    def join(
        cls,
        coordinator: str | None = None,
        num_processes: int | None = None,
        process_id: int | None = None,
        *,
        heartbeat_timeout_s: int = 30,
        initialization_timeout_s: int = 120,
        settings: dict | None = None,
        join_timeout_s: int = 60,
    ) -> Processes:
        """Joins this process to a multi-process run and returns its place in it.

        With ``coordinator`` (``HOST:PORT`` of process 0), ``num_processes`` and
        ``process_id``, the processes are given explicitly. With none of them, a cluster
        launcher's environment (SLURM, Open MPI, or ``JAX_COORDINATOR_ADDRESS`` /
        ``JAX_NUM_PROCESSES`` / ``JAX_PROCESS_ID``) is detected by
        ``jax.distributed.initialize()``; without one, nothing happens (one process).

        Call it before any JAX computation. Given explicitly, the processes first meet at
        ``coordinator`` (before JAX connects them): every one must bring the same
        ``num_processes`` and ``settings``, every one must come within ``join_timeout_s``,
        and JAX's coordinator then gets a fresh port that no stray process of another run can
        reach; anything else stops every process with the same one line. A process that dies,
        or stops answering, is noticed by the coordinator within ``heartbeat_timeout_s``; the
        others then stop.

        Args:
          coordinator: ``HOST:PORT``; process 0 listens there, the others connect to it.
          num_processes: how many processes in all (``>= 1``).
          process_id: this process, in ``[0, num_processes)``.
          heartbeat_timeout_s: seconds without a heartbeat after which a process counts as
            dead.
          initialization_timeout_s: seconds JAX waits for every process to connect.
          settings: what every process must agree on (JSON values: a script's arguments);
            checked before JAX starts.
          join_timeout_s: seconds process 0 waits for the others to meet it (and they for it).

        Returns:
          The :class:`Processes` value to pass to :func:`rnn_jax.runs.run_sweep`.

        Example:
          Two shells on one machine::

            python experiments/convergence_sweep.py --coordinator localhost:12345 \\
                --num-processes 2 --process-id 0 --out results/x
            python experiments/convergence_sweep.py --coordinator localhost:12345 \\
                --num-processes 2 --process-id 1 --out results/x
        """
        import jax

        given = [v is not None for v in (coordinator, num_processes, process_id)]
        if any(given) and not all(given):
            raise ValueError(
                "--coordinator, --num-processes and --process-id go together (give all three, "
                "or none to let a cluster launcher's environment decide)"
            )
        if not any(given):
            if not _launched_by_cluster():
                return cls()
            kwargs = {}
        else:
            _check_process_flags(num_processes, process_id)
            host, port = _parse_address(coordinator)
            if num_processes == 1:
                return cls()
            if jax.distributed.is_initialized():
                raise RuntimeError("this process has already joined a multi-process run")
            checks.check_positive_int("join_timeout_s", join_timeout_s)
            mine = files.to_jsonable(settings or {})
            if process_id == 0:
                jax_port = rendezvous.host(port, num_processes, mine, join_timeout_s)
            else:
                jax_port = rendezvous.join(
                    (host, port), process_id, num_processes, mine, join_timeout_s
                )
            kwargs = dict(
                coordinator_address=f"{host}:{jax_port}",
                num_processes=num_processes,
                process_id=process_id,
            )
        if jax.distributed.is_initialized():
            raise RuntimeError("this process has already joined a multi-process run")
        checks.check_positive_int("heartbeat_timeout_s", heartbeat_timeout_s)
        checks.check_positive_int("initialization_timeout_s", initialization_timeout_s)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        try:
            jax.distributed.initialize(
                **kwargs,
                initialization_timeout=initialization_timeout_s,
                heartbeat_timeout_seconds=heartbeat_timeout_s,
                shutdown_timeout_seconds=max(10, heartbeat_timeout_s),
            )
        except Exception as e:  # noqa: BLE001 - JAX raises several kinds; all mean "cannot join"
            text = " ".join(str(e).split())[:300]
            where = kwargs.get("coordinator_address", "the cluster's coordinator")
            raise ValueError(f"cannot join the run coordinated at {where}: {text}") from None
        return cls.current()

    # ------------------------------------------------------------------ agreement

    def gather_bytes(self, data: bytes) -> list[bytes]:
        """Every process's ``data``, in process order (a collective: every process calls it)."""
        if self.count == 1:
            return [data]
        from jax.experimental import multihost_utils

        size = np.asarray(multihost_utils.process_allgather(np.array([len(data)], np.int64)))
        padded = np.zeros(int(size.max()), np.uint8)
        padded[: len(data)] = np.frombuffer(data, np.uint8)
        gathered = np.asarray(multihost_utils.process_allgather(padded))
        return [gathered[i, : int(size[i, 0])].tobytes() for i in range(self.count)]

    def agree(self, settings: dict, what: str = "settings") -> None:
        """Proves that every process runs with the same ``settings`` (JSON values), before any
        work is shared; a difference raises :class:`ProcessesDisagree` on every process,
        naming the settings that differ and the processes that differ from process 0.

        Args:
          settings: what every process must agree on (a run's identity, its seeds, its
            chunking).
          what: how the message names them (``"--num-processes"``).
        """
        if self.count == 1:
            return
        mine = json.dumps(settings, sort_keys=True, default=str).encode()
        everyone = self.gather_bytes(hashlib.sha256(mine).digest() + mine)
        if len({b[:32] for b in everyone}) == 1:
            return
        first = json.loads(everyone[0][32:])
        keys, others = set(), []
        for i, b in enumerate(everyone[1:], start=1):
            diff = differences(first, json.loads(b[32:]))
            if diff:
                keys.update(diff)
                others.append(str(i))
        names = ", ".join(sorted(keys)[:8]) + (", ..." if len(keys) > 8 else "")
        raise ProcessesDisagree(
            f"the processes of this run were given different {what} (process "
            f"{', '.join(others)} differs from process 0 in {names}): every process must "
            "run the same command"
        )

    def share_from_first(self, data: bytes) -> bytes:
        """Process 0's ``data`` on every process (a collective: every process calls it; the
        others' ``data`` is ignored)."""
        if self.count == 1:
            return data
        return self.gather_bytes(data if self.writer else b"")[0]

    # ------------------------------------------------------------------ results folders

    def record(self, folder) -> None:
        """Notes a results folder opened for writing (its path; its seeds are read when a
        message needs them)."""
        self.folders.append(folder)

    def last_saved(self, open_only: bool = False) -> tuple[str, int] | None:
        """``(path, seeds saved)`` of the folder this process opened for writing most
        recently (``open_only``: of those still open), for the messages of an interrupted or
        failed run; the seeds are those of its last commit on disk."""
        folders = [f for f in self.folders if not (open_only and f.closed)]
        if not folders:
            return None
        return str(folders[-1].path), folders[-1].committed_seeds()
