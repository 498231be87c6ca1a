"""How does the adder's convergence rate depend on its hidden size and its training budget?

Seed 002's setting (RMSprop + Nesterov, lr 0.05, minibatches of 100 from 2000 pairs) with
``--hidden`` units and ``--epochs`` epochs (20 updates each), every combination on the same
``--seeds`` seeds (base seed ``--seed``)::

    python experiments/capacity_budget.py --out results/capacity_budget

writes ``OUT/table.md`` and ``OUT/table.csv`` (one row per combination: rate, Wilson 95%
interval, median updates to converge), ``OUT/heatmap.png`` (rate over budget x hidden size) and
``OUT/rate_vs_budget.png`` (one line per hidden size, 95% bands); each combination's sweep in
``OUT/sweeps/h<hidden>_e<epochs>/``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import rnn_jax as rj
from rnn_jax import runs, stats
from rnn_jax.runs import cli, files, plots

#: Arguments that choose which sweeps run; each sweep's folder records its own identity.
PARTS = ("hidden", "epochs", "seeds")


@dataclasses.dataclass(frozen=True)
class Args:
    """Convergence rate of seed 002's adder over hidden size x training budget."""

    hidden: Annotated[tuple[int, ...], cli.flag("the hidden sizes.", "H")] = (2, 3, 4, 6, 8)
    epochs: Annotated[
        tuple[int, ...],
        cli.flag("the budgets, in epochs of 20 updates (100, 300, 500 updates).", "N"),
    ] = (5, 15, 25)
    seeds: Annotated[
        int, cli.flag("seeds per setting (the same seeds for every setting).", "N")
    ] = 500
    seed: Annotated[int, cli.flag("the base seed.", "SEED")] = 2
    progress: Annotated[bool, cli.flag("show a progress line.")] = True
    output: cli.Output = cli.Output()
    compile_cache: cli.CompileCache = cli.CompileCache()


def main(argv=None, context=None) -> list[dict]:
    args, context = cli.start(Args, argv, __doc__, context)
    runs.use_cpu_cores()
    if not args.hidden or not args.epochs:
        raise ValueError("--hidden and --epochs need at least one value each")
    configs = [
        rj.TrainConfig(hidden=h, epochs=e, eval_every=5) for h in args.hidden for e in args.epochs
    ]
    trains = [rj.make_train(c) for c in configs]  # every configuration checked first
    out = args.output.folder(Path("results") / "capacity_budget")
    rows = []
    with cli.run_folder(out, "capacity_budget", args, context, parts=PARTS) as folder:
        files.real_folder(out / "sweeps")
        for cfg, train in zip(configs, trains):
            r = runs.run_sweep(
                train,
                args.seeds,
                base_seed=args.seed,
                out_dir=out / "sweeps" / f"h{cfg.hidden}_e{cfg.epochs}",
                overwrite=args.output.overwrite,
                processes=context.processes,
                cache=context.cache,
                progress=args.progress,
            )
            row = stats.table_row(r.summary, hidden=cfg.hidden, updates=train.steps)
            rows.append(row)
        lines = [
            "| hidden | updates | converged | rate [95% CI] | median updates to converge |",
            "|---:|---:|---:|---|---:|",
        ]
        for r in rows:
            ms = "-" if r["median_steps"] < 0 else f"{r['median_steps']:.0f}"
            lines.append(
                f"| {r['hidden']} | {r['updates']} | {r['converged']}/{r['seeds']} | "
                f"{r['rate']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {ms} |"
            )
        md = "\n".join(lines) + "\n"
        drawn = all((out / f).is_file() for f in ("heatmap.png", "rate_vs_budget.png"))
        if "table.md" in folder.manifest["files"] and drawn:
            if folder.read("table.md", 1 << 20).decode() == md:  # the same command: reused
                print(md)
                return rows
        what = f"seed 002's adder, RMSprop-Nesterov, {args.seeds} shared seeds"
        labelled = [{**r, "hidden units": r["hidden"]} for r in rows]
        plots.heatmap_figure(labelled, out / "heatmap.png", x="updates", y="hidden units",
                             title=f"Convergence rate [95% CI]\n{what}")  # fmt: skip
        plots.rate_curve_figure(
            labelled,
            out / "rate_vs_budget.png",
            x="updates",
            group="hidden units",
            logx=False,
            title=f"Convergence rate against budget: {what}",
        )
        folder.commit(
            {"table.md": md.encode(), "table.csv": files.csv_bytes({k: [r[k] for r in rows]
                                                                  for k in rows[0]})},
            seeds=args.seeds * len(rows),
        )  # fmt: skip
    print(md)
    return rows


if __name__ == "__main__":
    cli.script(main)
