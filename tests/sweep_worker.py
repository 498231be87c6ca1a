"""Runs a small sweep in a subprocess (for the device-count, kill/resume, interrupt and
multi-process tests), as a script: one line per error (``rnn_jax.cli.script``).

Usage: python tests/sweep_worker.py OUT_DIR N_SEEDS CHUNK [--signal-at AT SIGNAL]
                                     [--pause-at AT FIFO] [--processes HOST:PORT N I]

The same command again continues (or reuses) the run in OUT_DIR.

``--signal-at AT SIGNAL`` stops the run at a chosen point, deterministically: at ``AT``
(``start``: the folder is open and nothing is compiled yet; an integer ``k``: right after the
commit that saved ``k`` seeds) the process sends itself ``SIGNAL`` (``INT``, ``TERM``,
``KILL``) and then blocks, so the signal's own handling is the only way the run ends.
``--pause-at AT FIFO`` stops there until the test writes to (and closes) the FIFO.
"""

import os
import signal
import threading

import jax

from rnn_jax import make_train
from rnn_jax.runs import Processes, cli, run_sweep
from tests.sweep_config import TINY


def _stop_at(at: str, name: str):
    """The ``on_start`` and ``on_chunk`` hooks that send ``SIG<name>`` at ``at`` and block."""
    signum = getattr(signal, f"SIG{name}")

    def stop(point):
        if str(point) == at:
            os.kill(os.getpid(), signum)
            threading.Event().wait()  # the interrupt handler (or the kill) ends the process

    on_start = (lambda saved: stop("start")) if at == "start" else None
    return on_start, stop


def main(argv, context=None):
    out, n, chunk = argv[0], int(argv[1]), int(argv[2])
    context = cli.Context() if context is None else context
    if "--processes" in argv:
        i = argv.index("--processes")
        address, count, index = argv[i + 1], int(argv[i + 2]), int(argv[i + 3])
        # Generous limits: no test measures how fast a silent peer is noticed (a killed one is
        # told by its closed connection), and a machine under load must not reach them; a test
        # of the join timeout sets JOIN_TIMEOUT.
        context.processes = Processes.join(
            address,
            count,
            index,
            heartbeat_timeout_s=60,
            initialization_timeout_s=120,
            join_timeout_s=int(os.environ.get("JOIN_TIMEOUT", "120")),
        )
    on_start = on_chunk = None
    if "--signal-at" in argv:
        i = argv.index("--signal-at")
        on_start, on_chunk = _stop_at(argv[i + 1], argv[i + 2])
    if "--pause-at" in argv:
        i = argv.index("--pause-at")
        at, fifo = argv[i + 1], argv[i + 2]

        def on_chunk(done):
            if str(done) == at:
                with open(fifo) as f:  # blocks until the test opens, writes and closes it
                    f.read()

    run_sweep(
        make_train(TINY),
        n,
        chunk_size=chunk,
        out_dir=out,
        microbatch=4,
        progress=False,
        on_start=on_start,
        on_chunk=on_chunk,
        processes=context.processes,
    )
    print("devices", len(jax.devices()), "processes", jax.process_count(), flush=True)


if __name__ == "__main__":
    cli.script(main)
