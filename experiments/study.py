"""The main job: reproduce the three seeds and measure how often seed 002's training converges.

1. Seed 000 (counting ones, Rprop), seed 001 (next number mod 3, SGD), seed 002 (binary
   addition, RMSprop + Nesterov): each experiment script with its defaults, its files under
   ``OUT/counting_ones``, ``OUT/next_number``, ``OUT/binary_addition``.
2. Binary addition over ``--seeds`` random seeds for the seed's optimizer and the others in
   ``--optimizers``: convergence rate with 95% Wilson interval, divergence, median updates to
   converge, and each rate's difference from the seed's optimizer, paired over the shared
   seeds (Newcombe's paired interval, exact McNemar test, Holm's correction).

Writes ``OUT/summary.md``, ``OUT/metrics.json``, ``OUT/rates.png``, ``OUT/ecdf.png`` and
``OUT/loss_rmsprop_nesterov.png`` and prints the table.

    python experiments/study.py            # OUT = results/study
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import time
from pathlib import Path
from typing import Annotated

from rnn_jax import OPTIMIZERS, TrainConfig, make_train, runs
from rnn_jax.runs import cli, files, plots

HERE = Path(__file__).resolve().parent


#: Arguments that choose which parts run; each part's folder records its own identity.
PARTS = ("optimizers", "skip_reproductions", "seeds")


@dataclasses.dataclass(frozen=True)
class Args:
    """Reproduce the seeds, then the 1000-seed convergence study of seed 002."""

    seeds: Annotated[
        int, cli.flag("seeds per optimizer (the same seeds for every optimizer).", "N")
    ] = 1000
    seed: Annotated[
        int, cli.flag("the base seed (1: the learning rates were tuned on base seed 0).", "SEED")
    ] = 1
    optimizers: Annotated[
        tuple[str, ...], cli.flag("the optimizers compared; the first is the baseline.", "NAME")
    ] = ("rmsprop_nesterov", "rmsprop", "adam", "momentum", "sgd")
    eval_every: Annotated[
        int, cli.flag("updates between evaluations (the resolution of updates-to-converge).", "N")
    ] = 5
    skip_reproductions: Annotated[bool, cli.flag("skip the three tutorials' reproductions.")] = (
        False
    )
    chunk_size: Annotated[int, cli.flag("seeds per compiled call (memory and saving).", "N")] = 1000
    progress: Annotated[bool, cli.flag("show a progress line.")] = True
    output: cli.Output = cli.Output()
    compile_cache: cli.CompileCache = cli.CompileCache()
    processes: cli.ProcessFlags = cli.ProcessFlags()


def _experiment(name: str):
    spec = importlib.util.spec_from_file_location(
        f"rnn_jax_experiments_{name}", HERE / f"{name}.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def reproductions(out: Path, args: Args) -> dict:
    res = {}
    folder, _ = args.compile_cache.folder()
    cache_flags = ["--no-cache"] if folder is None else ["--cache-dir", str(folder)]
    for name in ("counting_ones", "next_number", "binary_addition"):
        print(f"\n=== {name} ===", flush=True)
        flags = ["--out", str(out / name), *cache_flags]
        flags += ["--overwrite"] if args.output.overwrite else []
        res[name] = _experiment(name).main(flags)
    return res


#: The study table's label columns: ``(key, heading)``.
COLUMNS = (("optimizer", "optimizer"), ("learning_rate", "lr"))


def structures(args: Args) -> list:
    """One training run per optimizer, at the registry's tuned defaults (checked before
    anything runs)."""
    return [
        make_train(TrainConfig(optimizer=o, eval_every=args.eval_every)) for o in args.optimizers
    ]


def convergence(args: Args, trains, out: Path, context: cli.Context) -> runs.GridResult:
    """Every optimizer on the same seeds: seed i has the same data and initial network for
    every optimizer, so each is compared with the first seed by seed."""
    return runs.run_grid(
        trains,
        args.seeds,
        names=list(args.optimizers),
        base_seed=args.seed,
        chunk_size=args.chunk_size,
        out_dir=out / "sweeps",
        overwrite=args.output.overwrite,
        progress=args.progress,
        processes=context.processes,
        cache=context.cache,
    )


def figures(grid: runs.GridResult, out: Path, args: Args) -> list[str]:
    """rates.png (points with 95% intervals), ecdf.png (updates to converge), and the loss
    bands of the tutorial's optimizer (loss_<optimizer>.png)."""
    n = args.seeds
    plots.rates_figure(
        grid.summary(),
        out / "rates.png",
        title=f"Binary addition (seed 002 setting): convergence over {n} shared seeds",
    )
    first = grid.sweeps[0]
    budget = int(first.curves["update"][-1])
    plots.ecdf_figure(
        {
            o: (r.table["first_converged_update"], r.table["converged"])
            for o, r in zip(args.optimizers, grid.sweeps)
        },
        budget,
        out / "ecdf.png",
        title=f"Updates to converge (evaluated every {args.eval_every} updates), {n} seeds",
    )
    name = f"loss_{args.optimizers[0]}.png"
    plots.loss_bands_figure(
        first.curves["update"],
        first.curves["loss"],
        first.table["converged"],
        out / name,
        title=f"{args.optimizers[0]}: mean minibatch loss per evaluation block, {n} seeds",
        ylabel="training loss (BCE)",
    )
    return ["rates.png", "ecdf.png", name]


def main(argv=None, context=None) -> dict:
    args, context = cli.start(Args, argv, __doc__, context)
    runs.use_cpu_cores()  # one device per core: the sweep shards its seeds over them
    if not args.optimizers or args.seeds < 1:
        raise ValueError("--optimizers must name at least one optimizer and --seeds be >= 1")
    for o in args.optimizers:
        if o not in OPTIMIZERS:
            raise ValueError(f"--optimizers: {o!r} is not one of {sorted(OPTIMIZERS)}")
    trains = structures(args)  # every configuration checked before anything runs
    out = args.output.folder(Path("results") / "study")
    t0 = time.perf_counter()
    writer = context.processes.writer
    parts = {k: files.to_jsonable(getattr(args, k)) for k in PARTS}
    with cli.run_folder(out, "study", args, context, parts=PARTS) as folder:
        done = folder.saved_json("metrics.json")
        if done is not None and done.get("parts") == parts:  # the same command: reuse it
            print(f"reusing the finished study in {out} (the same command)", file=sys.stderr)
            print("\n" + folder.read("summary.md", 1 << 20).decode())
            print(f"files: {out}/summary.md, metrics.json, figures and sweeps/")
            return done
        if writer:
            files.real_folder(out / "sweeps")
        repro = {} if args.skip_reproductions or not writer else reproductions(out, args)
        grid = convergence(args, trains, out, context)
        rows = grid.summary()
        md = grid.markdown(COLUMNS)
        names = figures(grid, out, args) if writer else []
        header = (
            f"Binary addition, seed 002's setting (2000 pairs, 3 states, minibatches of 100, "
            f"5 epochs = 100 updates), {args.seeds} seeds (base seed {args.seed}) shared by "
            "every optimizer; converged = all 4096 pairs of 6-bit numbers exact. Rates with "
            "Wilson 95% intervals; differences paired over the shared seeds (Newcombe 1998, "
            "method 10) with exact McNemar p-values, Holm-adjusted over the comparisons.\n\n"
        )
        metrics = {
            "parts": parts,
            "reproductions": {
                k: {kk: vv for kk, vv in v.items() if kk != "examples"} for k, v in repro.items()
            },
            "convergence": rows,
            "wall_seconds": time.perf_counter() - t0,
        }
        folder.commit(
            {
                "summary.md": (header + md + "\n").encode(),
                "metrics.json": files.json_bytes(metrics),
            },
            seeds=sum(r["seeds"] for r in rows),
        )
    print("\n" + header + md)
    print(
        f"\nfiles: {out}/summary.md, metrics.json, {', '.join(names)}; "
        f"total {metrics['wall_seconds']:.0f}s"
    )
    return metrics


if __name__ == "__main__":
    cli.script(main)
