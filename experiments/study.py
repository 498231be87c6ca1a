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

from rnn_jax import OPTIMIZERS, TrainConfig, make_train, runs, stats
from rnn_jax.runs import cli, files, plots

HERE = Path(__file__).resolve().parent


#: Arguments that choose which parts run; each part's folder records its own identity.
PARTS = ("optimizers", "skip_reproductions", "seeds")


@dataclasses.dataclass(frozen=True)
class Args:
    """Reproduce the seeds, then the 1000-seed convergence study of seed 002."""

    output: cli.Output = cli.Output()
    """--out DIR, --overwrite (move another run aside), --resume (accepted)."""
    compile_cache: cli.CompileCache = cli.CompileCache()
    """--no-cache, --cache-dir DIR: the persistent compilation cache (on by default)."""
    processes: cli.ProcessFlags = cli.ProcessFlags()
    """--coordinator HOST:PORT --num-processes N --process-id I: one sweep over several
    processes (README, "Several machines")."""
    seeds: int = 1000
    seed: int = 1
    """base seed 1: the learning rates were chosen on base seed 0 (no reuse of those seeds)."""
    optimizers: tuple[str, ...] = ("rmsprop_nesterov", "rmsprop", "adam", "momentum", "sgd")
    chunk_size: int = 1000
    eval_every: int = 5
    """updates between evaluations: the resolution of updates-to-converge (ecdf.png) and of
    the loss curves; whether a seed converged does not depend on it."""
    skip_reproductions: bool = False
    progress: bool = True


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


def convergence(args: Args, out: Path, context: cli.Context) -> tuple[list[dict], dict]:
    rows, results = [], {}
    for opt in args.optimizers:
        config = TrainConfig(optimizer=opt, eval_every=args.eval_every)
        train = make_train(config)  # the registry's tuned defaults
        lr = train.hparams["learning_rate"]
        print(f"\n{opt} (lr {lr:g}), {args.seeds} seeds", file=sys.stderr)
        t0 = time.perf_counter()
        r = runs.run_sweep(
            train,
            args.seeds,
            base_seed=args.seed,
            chunk_size=args.chunk_size,
            out_dir=out / "sweeps" / opt,
            overwrite=args.output.overwrite,
            progress=args.progress,
            processes=context.processes,
        )
        results[opt] = r
        row = stats.table_row(r.summary, optimizer=opt, hidden=config.hidden, learning_rate=lr)
        rows.append({**row, "seconds": time.perf_counter() - t0})
    # The seeds are shared: seed i has the same data and initial network for every optimizer.
    base = args.optimizers[0]
    paired = stats.compare_to_baseline(
        {o: results[o].table["converged"] for o in args.optimizers}, base
    )
    for r in rows:
        r["vs_first"] = paired.get(r["optimizer"])
    return rows, results


def table(rows: list[dict]) -> str:
    first = rows[0]["optimizer"]
    lines = [
        f"| optimizer | lr | converged | rate [95% CI] | diverged | median updates | "
        f"vs {first}: difference [95% CI, paired] | p (McNemar, Holm) | seeds only it / only "
        f"{first} |",
        "|---|---:|---:|---|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        d = r["vs_first"]
        ms = "-" if r["median_steps"] < 0 else f"{r['median_steps']:.0f}"
        versus = (
            "(baseline) | | "
            if d is None
            else f"{d['difference']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] | "
            f"{stats.format_p(d['p_holm'])} | {d['only_a']} / {d['only_b']}"
        )
        lines.append(
            f"| {r['optimizer']} | {r['learning_rate']:g} | {r['converged']}/{r['seeds']} | "
            f"{r['rate']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {r['diverged']} | {ms} | "
            f"{versus} |"
        )
    return "\n".join(lines)


def figures(rows: list[dict], results: dict, out: Path, args: Args) -> list[str]:
    """rates.png (points with 95% intervals), ecdf.png (updates to converge), and the loss
    bands of the tutorial's optimizer (loss_<optimizer>.png)."""
    n = args.seeds
    plots.rates_figure(
        rows,
        out / "rates.png",
        title=f"Binary addition (seed 002 setting): convergence over {n} shared seeds",
    )
    first = results[args.optimizers[0]]
    budget = int(first.curves["update"][-1])
    plots.ecdf_figure(
        {o: (r.table["steps_to_converge"], r.table["converged"]) for o, r in results.items()},
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
        rows, results = convergence(args, out, context)
        md = table(rows)
        names = figures(rows, results, out, args) if writer else []
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
