"""Runs a small sweep in a subprocess (for the device-count and kill/resume tests).

Usage: python tests/sweep_worker.py OUT_DIR N_SEEDS CHUNK [--resume] [--slow]
"""

import sys
import time

import jax

jax.config.update("jax_enable_x64", False)

from rnn_jax import make_train, run_sweep  # noqa: E402
from tests.sweep_config import TINY  # noqa: E402

if __name__ == "__main__":
    out, n, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    slow = "--slow" in sys.argv
    run_sweep(
        make_train(TINY),
        n,
        chunk_size=chunk,
        out_dir=out,
        microbatch=4,
        resume="--resume" in sys.argv,
        progress=False,
        on_chunk=(lambda done: time.sleep(0.4)) if slow else None,
    )
    print("devices", len(jax.devices()))
