"""Does the vmapped JAX sweep measure the same convergence rate as the seed's own NumPy loop?

Trains seed 002's configuration one seed at a time with the literal NumPy transcription of the
seed (``rnn_jax.reference.seed002_train``, float64, NumPy's RNG), and many seeds at once with
``rnn_jax.sweep`` (float32, JAX's RNG). The seeds differ, so the two rates are compared
statistically: both 95% Wilson intervals and Newcombe's interval for the difference.

    python experiments/validate_seed002.py [--numpy-seeds 300] [--sweep-seeds 1000]
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np

from rnn_jax import TrainConfig, make_train, reference, runs, stats
from rnn_jax.runs import cli


@dataclasses.dataclass(frozen=True)
class Args:
    """Seed 002's NumPy loop vs the JAX sweep, same configuration."""

    seed: Annotated[int, cli.flag("the base seed of both.", "SEED")] = 0
    numpy_seeds: Annotated[
        int, cli.flag("seeds of the tutorial's NumPy loop, one at a time.", "N")
    ] = 300
    sweep_seeds: Annotated[int, cli.flag("seeds of the JAX sweep.", "N")] = 1000
    overlapping: Annotated[
        bool, cli.flag("train the NumPy loop on the seed's overlapping X[mb:mb+100] windows.")
    ] = False
    progress: Annotated[bool, cli.flag("show a progress line.")] = True
    output: cli.Output = cli.Output()
    compile_cache: cli.CompileCache = cli.CompileCache()


def numpy_rate(n: int, seed: int, overlapping: bool, progress: bool) -> tuple[int, float]:
    k = 0
    t0 = time.perf_counter()
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        P = reference.seed002_init(rng)
        X, T = reference.seed002_data(rng, 2000)
        P = reference.seed002_train(P, X, T, overlapping=overlapping)
        k += reference.seed002_converged(P)
        if progress:
            print(f"\rnumpy loop: {i + 1}/{n} seeds, {k} converged", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    return k, (time.perf_counter() - t0) / n


def main(argv=None, context=None) -> dict:
    args, context = cli.start(Args, argv, __doc__, context)
    runs.use_cpu_cores()  # one device per core: the sweep shards its seeds over them
    if args.numpy_seeds < 1 or args.sweep_seeds < 1:
        raise ValueError("--numpy-seeds and --sweep-seeds must be >= 1")
    out = args.output.folder(Path("results") / "validate_seed002" / "default")
    compute = lambda: run(args, out, context)  # noqa: E731
    metrics = cli.reuse_or_run(out, "validate_seed002", args, context, compute)
    report(metrics, args, out)
    return metrics


def run(args: Args, out: Path, context: cli.Context) -> dict:
    k_np, sec_np = numpy_rate(args.numpy_seeds, args.seed, args.overlapping, args.progress)
    sweep = runs.run_sweep(
        make_train(TrainConfig()),
        args.sweep_seeds,
        base_seed=args.seed,
        out_dir=out / "sweep",
        overwrite=args.output.overwrite,
        progress=args.progress,
        cache=context.cache,
    )
    s = sweep.summary
    lo, hi = stats.wilson_interval(k_np, args.numpy_seeds)
    diff = stats.rate_difference(s["converged"], s["seeds"], k_np, args.numpy_seeds)
    metrics = {
        "numpy_seed_loop": {
            "seeds": args.numpy_seeds,
            "converged": k_np,
            "rate": k_np / args.numpy_seeds,
            "ci95": [lo, hi],
            "seconds_per_seed": sec_np,
            "overlapping_minibatches": args.overlapping,
        },
        "jax_sweep": {k: s[k] for k in ("seeds", "converged", "rate", "ci95", "seeds_per_second")},
        "difference_sweep_minus_numpy": diff,
        "agree": not diff["significant"],
    }
    return metrics


def report(metrics: dict, args: Args, out: Path) -> None:
    n, s = metrics["numpy_seed_loop"], metrics["jax_sweep"]
    lo, hi = n["ci95"]
    print(
        f"NumPy seed loop: {n['converged']}/{n['seeds']} = {n['rate']:.3f} "
        f"[{lo:.3f}, {hi:.3f}]  ({n['seconds_per_seed'] * 1e3:.0f} ms/seed)"
    )
    print(
        f"JAX sweep:       {s['converged']}/{s['seeds']} = {s['rate']:.3f} "
        f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
    )
    d = metrics["difference_sweep_minus_numpy"]
    print(
        f"difference {d['difference']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]: "
        f"{'agree' if metrics['agree'] else 'DISAGREE'} at 95% -> {out}"
    )


if __name__ == "__main__":
    cli.script(main)
