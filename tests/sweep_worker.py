"""Runs a small sweep in a subprocess (for the device-count, kill/resume and multi-process
tests), as a script: one line per error (``rnn_jax.cli.script``).

Usage: python tests/sweep_worker.py OUT_DIR N_SEEDS CHUNK [--resume] [--slow]
                                     [--processes HOST:PORT N I]
"""

import time

import jax

from rnn_jax import cli, make_train, run_sweep
from rnn_jax.sweep import initialize
from tests.sweep_config import TINY


def main(argv):
    out, n, chunk = argv[0], int(argv[1]), int(argv[2])
    if "--processes" in argv:
        i = argv.index("--processes")
        address, count, index = argv[i + 1], int(argv[i + 2]), int(argv[i + 3])
        initialize(address, count, index, heartbeat_timeout_s=5, initialization_timeout_s=20)
    slow = "--slow" in argv
    run_sweep(
        make_train(TINY),
        n,
        chunk_size=chunk,
        out_dir=out,
        microbatch=4,
        resume="--resume" in argv,
        progress=False,
        on_chunk=(lambda done: time.sleep(0.4)) if slow else None,
    )
    print("devices", len(jax.devices()), "processes", jax.process_count(), flush=True)


if __name__ == "__main__":
    cli.script(main)
