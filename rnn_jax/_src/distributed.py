"""Several processes, one sweep: JAX's multi-controller runtime (``jax.distributed``).

Every process runs the same command; :func:`initialize` connects it to the others (CPU
collectives over gloo, so plain CPU machines work too). A sweep then shards each chunk of seeds
over all the processes' devices, gathers the results on every process, and only process 0
reads or writes files (:func:`rnn_jax.io.is_writer` is ``False`` on the others).
"""

from __future__ import annotations

import os
import re
import time

from rnn_jax._src import io

#: Environment variables that mean a cluster launcher started this process among several
#: (``jax.distributed.initialize()`` reads the rest of its settings from them).
CLUSTER_VARIABLES = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "JAX_NUM_PROCESSES")

#: Where those launchers put this process's index.
RANK_VARIABLES = ("SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "JAX_PROCESS_ID")

_STATE: dict = {}


def _parse_address(address: str) -> tuple[str, int]:
    m = re.fullmatch(r"\[?([A-Za-z0-9._:-]+?)\]?:(\d{1,5})", address.strip())
    if m is None or not 1 <= int(m.group(2)) <= 65535:
        raise ValueError(f"--coordinator must be HOST:PORT (port 1-65535), got {address!r}")
    return m.group(1), int(m.group(2))


def _check_port_free(port: int) -> None:
    """Process 0 hosts the coordinator on ``port``; a port in use would crash JAX's service
    (a segmentation fault in gRPC), so it is refused first."""
    import socket

    try:
        if socket.has_dualstack_ipv6():
            server = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
        else:
            server = socket.create_server(("", port))
        server.close()
    except OSError:
        raise ValueError(
            f"--coordinator port {port} is in use on this host; choose a free port"
        ) from None


def _check_same_count(num_processes: int, process_id: int) -> None:
    """Every process must have been given the same --num-processes (JAX takes process 0's
    and would let a process with another count join silently).

    Process 0 compares every count with its own and publishes the verdict; the others read
    it. On a mismatch every process stops with one line, process 0 last: it hosts the
    coordination service, and a process that loses the service while still running is
    aborted by JAX with a native log instead of its own message.
    """
    from jax._src import distributed as jax_distributed  # the coordinator's key-value store

    client = jax_distributed.global_state.client
    if client is None:
        return
    key = "rnn_jax/num_processes"
    client.key_value_set(f"{key}/{process_id}", str(num_processes))
    client.wait_at_barrier(key, 60_000)  # every count is published
    if process_id == 0:
        others = range(1, num_processes)
        counts = {i: int(client.blocking_key_value_get(f"{key}/{i}", 10_000)) for i in others}
        differ = {i: c for i, c in counts.items() if c != num_processes}
        client.key_value_set(f"{key}/verdict", "differ" if differ else "same")
        if not differ:
            return
        try:  # everyone has read the verdict and is on its way out
            for i in others:
                client.blocking_key_value_get(f"{key}/read/{i}", 10_000)
        except Exception:  # noqa: BLE001 - one that died is already out
            pass
        time.sleep(1.0)
        other, theirs = next(iter(differ.items()))
    else:
        verdict = client.blocking_key_value_get(f"{key}/verdict", 60_000)
        theirs, other = int(client.blocking_key_value_get(f"{key}/0", 10_000)), 0
        client.key_value_set(f"{key}/read/{process_id}", "1")
        if verdict == "same":
            return
    if theirs == num_processes:  # this one agrees with process 0; another does not
        raise ValueError(
            "another process was given a different --num-processes: every process must be "
            "given the same --num-processes"
        )
    raise ValueError(
        f"--num-processes {num_processes} here but {theirs} on process {other}: every "
        "process must be given the same --num-processes"
    )


def _launched_by_cluster() -> bool:
    for name in CLUSTER_VARIABLES:
        try:
            if int(os.environ.get(name, "1")) > 1:
                return True
        except ValueError:
            pass
    return False


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    heartbeat_timeout_s: int = 30,
    initialization_timeout_s: int = 120,
) -> int:
    """Joins this process to a multi-process run; returns the number of processes.

    With ``coordinator`` (``HOST:PORT`` of process 0), ``num_processes`` and ``process_id``,
    the processes are given explicitly. With none of them, a cluster launcher's environment
    (SLURM, Open MPI, or ``JAX_COORDINATOR_ADDRESS``/``JAX_NUM_PROCESSES``/``JAX_PROCESS_ID``)
    is detected by ``jax.distributed.initialize()``; without one, nothing happens (one process).

    Call it before any JAX computation. A process that dies, or stops answering, is noticed by
    the coordinator within ``heartbeat_timeout_s``; every other process then stops with an
    error (JAX's coordination service), and whatever chunks process 0 had saved stay saved.

    Args:
      coordinator: ``HOST:PORT``; process 0 listens there, the others connect to it.
      num_processes: how many processes in all (``>= 1``).
      process_id: this process, in ``[0, num_processes)``.
      heartbeat_timeout_s: seconds without a heartbeat after which a process counts as dead.
      initialization_timeout_s: seconds to wait for every process to connect.

    Example (two shells on one machine)::

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
            return 1
        kwargs = {}
    else:
        if (
            isinstance(num_processes, bool)
            or not isinstance(num_processes, int)
            or (num_processes < 1)
        ):
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
        host, port = _parse_address(coordinator)
        if num_processes == 1:
            return 1
        if process_id == 0:
            _check_port_free(port)
        kwargs = dict(
            coordinator_address=f"{host}:{port}",
            num_processes=num_processes,
            process_id=process_id,
        )
    if _STATE:
        raise RuntimeError("this process has already joined a multi-process run")
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
    # Not jax.process_index(): that would start the backends, and the caller may still want to
    # choose the CPU device count (rnn_jax.use_cpu_cores) before they start.
    if kwargs:
        count, index = num_processes, process_id
    else:
        count = int(next(os.environ[v] for v in CLUSTER_VARIABLES if v in os.environ))
        index = int(next((os.environ[v] for v in RANK_VARIABLES if v in os.environ), "0"))
    _STATE.update(processes=count, index=index)  # from here on, a failure exits at once
    io.set_writer(index == 0)
    if kwargs:
        _check_same_count(num_processes, process_id)
    return count
