"""Side-by-side speed of the seed-002 workload, and a per-cell forward+backward micro-benchmark.

Everything is measured in one run on one machine (shared machines are noisy: medians and
ratios, not single times):

(a) the NumPy transcription of seed 002's loop, one seed at a time (``rnn_jax.reference``);
(b) rnn_jax's sweep (``Sweep``: microbatched vmap, sharded) with ``jax.grad`` through the scan;
(c) the same with the hand-written BPTT (``custom_vjp``).

Per seed-training: ms (median over ``--repeats`` after a warm-up; (b) and (c) are called in
turn within every round so both see the same load), compile time, the memory XLA reserves for
the compiled chunk as the sweep runs it (``Sweep.memory_bytes``) and the ratio against (a).
Then, per cell, forward+backward of a sum-of-outputs loss, hand BPTT vs ``jax.grad`` (also
called in turn), for H in ``--hidden`` and T in ``--steps``.

    python experiments/benchmark.py [--seeds 1000] [--json FILE]
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import rnn_jax as rj
from rnn_jax import Sweep, TrainConfig, cli, io, make_train, reference, seed_keys, use_cpu_cores


@dataclasses.dataclass(frozen=True)
class Args:
    """Speed of the sweep against the seed's NumPy loop, and of hand BPTT against jax.grad."""

    seeds: int = 1000
    numpy_seeds: int = 10
    repeats: int = 3
    microbatch: int = 64
    hidden: tuple[int, ...] = (3, 32, 256)
    steps: tuple[int, ...] = (7, 100)
    cell_batch: int = 100
    cells: tuple[str, ...] = ("linear", "tanh", "lstm", "gru")
    json: str | None = None
    skip_cells: bool = False


def _interleaved(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, calling them in turn within every round so
    that all of them see the same machine load; ``fns`` are already warmed up."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for label, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[label].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _numpy_seed(i: int) -> float:
    """Seconds to train one seed with seed 002's literal NumPy loop."""
    rng = np.random.default_rng([0, i])
    P = reference.seed002_init(rng)
    X, T = reference.seed002_data(rng, 2000)
    t0 = time.perf_counter()
    reference.seed002_train(P, X, T)
    return time.perf_counter() - t0


SWEEPS = {"rnn_jax sweep, jax.grad (b)": "autodiff", "rnn_jax sweep, hand BPTT (c)": "bptt"}


def sweep_timings(args: Args) -> dict[str, dict]:
    """(b) and (c): compile each, then time them in turn (``_interleaved``)."""
    calls, rows = {}, {}
    for label, backward in SWEEPS.items():
        sweep = Sweep(
            make_train(TrainConfig(backward=backward)), args.seeds, microbatch=args.microbatch
        )
        kd = seed_keys(0, np.arange(sweep.chunk_size))
        t0 = time.perf_counter()
        jax.block_until_ready(sweep(kd))
        first = time.perf_counter() - t0
        calls[label] = lambda sweep=sweep, kd=kd: sweep(kd)
        mem = sweep.memory_bytes()
        rows[label] = {
            "first_call_s": first,
            "seeds": sweep.chunk_size,
            "peak_bytes_per_1000_seeds": None if mem is None else mem * 1000 / sweep.chunk_size,
        }
    for label, sec in _interleaved(calls, args.repeats).items():
        r = rows[label]
        r["ms_per_seed"] = 1e3 * sec / r["seeds"]
        r["compile_s"] = max(0.0, r.pop("first_call_s") - sec)
    return rows


def cell_timing(name: str, hidden: int, steps: int, batch: int, repeats: int) -> dict:
    cell = rj.CELLS[name]
    key = jax.random.key(0)
    params = cell.init(key, hidden, hidden)
    xs = jax.random.normal(key, (batch, steps, hidden), jnp.float32)

    def loss(backward, p, x):
        hs, _ = rj.unroll(cell, p, x, backward=backward)
        return jnp.sum(hs)

    calls = {}
    for label in ("autodiff", "bptt"):
        g = jax.jit(jax.grad(lambda p, x, b=label: loss(b, p, x)))
        jax.block_until_ready(g(params, xs))
        calls[label] = lambda g=g: g(params, xs)
    out = {k: 1e3 * v for k, v in _interleaved(calls, repeats).items()}
    out["speedup"] = out["autodiff"] / out["bptt"]
    return out


def main(argv=None) -> dict:
    args = cli.parse(Args, argv, description=__doc__.split("\n\n")[0])
    use_cpu_cores()  # one device per core: the sweep shards its seeds over them
    if args.seeds < 1 or args.numpy_seeds < 1 or args.repeats < 1:
        raise ValueError("--seeds, --numpy-seeds and --repeats must be >= 1")
    # (a) first, before JAX starts its backends: once started, several CPU devices' thread
    # pools slow a NumPy loop in the same process down by half (33 -> 51 ms per seed here).
    np_times = [_numpy_seed(i) for i in range(args.numpy_seeds)]
    np_ms = 1e3 * statistics.median(np_times)
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "devices": [str(d) for d in jax.devices()],
        "jax": jax.__version__,
    }
    print(f"machine: {machine['platform']}, devices {machine['devices']}", flush=True)
    rows = {
        "numpy seed loop (a)": {
            "ms_per_seed": np_ms,
            "compile_s": 0.0,
            "seeds": 1,
            "peak_bytes_per_1000_seeds": None,
        }
    }
    rows.update(sweep_timings(args))
    print("\n| workload | ms / seed | vs NumPy (a) | compile s | memory / 1000 seeds |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        mem = r["peak_bytes_per_1000_seeds"]
        r["speedup_vs_numpy"] = np_ms / r["ms_per_seed"]
        print(
            f"| {name} | {r['ms_per_seed']:.3f} | {r['speedup_vs_numpy']:.1f}x | "
            f"{r['compile_s']:.1f} | {'-' if mem is None else f'{mem / 2**20:.0f} MiB'} |"
        )
    cells = []
    if not args.skip_cells:
        print("\n| cell | H | T | jax.grad ms | hand BPTT ms | hand speedup |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in args.cells:
            for h in args.hidden:
                for t in args.steps:
                    r = cell_timing(name, h, t, args.cell_batch, max(args.repeats, 9))
                    cells.append({"cell": name, "hidden": h, "steps": t, **r})
                    print(
                        f"| {name} | {h} | {t} | {r['autodiff']:.3f} | {r['bptt']:.3f} | "
                        f"{r['speedup']:.2f}x |",
                        flush=True,
                    )
    result = {"machine": machine, "args": dataclasses.asdict(args), "sweep": rows, "cells": cells}
    if args.json:
        io.write_json(args.json, result)
    return result


if __name__ == "__main__":
    cli.script(main)
