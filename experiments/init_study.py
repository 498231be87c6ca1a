"""Does the initialisation decide convergence? The cells' init schemes, paired seed by seed.

Two tasks, each trained from every initialisation scheme on the same seeds (seed *i* gets the
same data and the same random draws whatever the scheme):

* seed 002's adder (a tanh RNN of 3 units, RMSprop-Nesterov, lr 0.05, 100 updates),
  ``--adder-seeds`` seeds;
* delayed recall (at every step t >= 3 the bit of step t - 3, 10 steps; a GRU of 4 units,
  Adam lr 0.03, minibatches of 64 from 1024 sequences, 320 updates, exact match on all 2**10
  sequences), ``--recall-seeds`` seeds, built with ``rnn_jax.sequence_task``.

Each scheme is compared with Glorot (the default) by the paired difference of convergence rates
(Newcombe's interval, exact McNemar test, Holm-adjusted)::

    python experiments/init_study.py --out results/init_study

writes ``OUT/init_study.md`` (both tables), ``OUT/init_study.png`` (rates with 95% intervals,
one panel per task) and each task's grid in ``OUT/<task>/`` (``per_seed.csv`` of every seed
under every scheme, one sweep folder per scheme).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import numpy as np

import rnn_jax as rj
from rnn_jax import runs
from rnn_jax.cells import INIT_SCHEMES
from rnn_jax.runs import cli, plots

#: Arguments that choose which sweeps run; each sweep's folder records its own identity.
PARTS = ("adder_seeds", "recall_seeds", "schemes")


@dataclasses.dataclass(frozen=True)
class Args:
    """The cells' initialisation schemes compared seed by seed on the adder and on delayed
    recall."""

    adder_seeds: Annotated[
        int, cli.flag("seeds of the adder (the same for every scheme).", "N")
    ] = 1000
    recall_seeds: Annotated[
        int, cli.flag("seeds of delayed recall (the same for every scheme).", "N")
    ] = 500
    schemes: Annotated[
        tuple[str, ...], cli.flag("the schemes compared; the first is the baseline.", "NAME")
    ] = INIT_SCHEMES
    seed: Annotated[int, cli.flag("the base seed.", "SEED")] = 0
    progress: Annotated[bool, cli.flag("show a progress line.")] = True
    output: cli.Output = cli.Output()
    compile_cache: cli.CompileCache = cli.CompileCache()


def recall_data(key):
    """1024 random sequences of 10 bits; targets the bit of 3 steps earlier."""
    return rj.datasets.delayed_recall_data(key, 1024, length=10, delay=3)


def every_sequence(key):
    """All 2**10 sequences: exact match on them is exact."""
    return rj.datasets.all_delayed_recall(length=10, delay=3)


def structures(scheme: str) -> dict[str, rj.TrainConfig]:
    """The two tasks' training runs with the initialisation ``scheme``."""
    recall = rj.sequence_task(recall_data, test_data=every_sequence, cell="gru", hidden=4,
                              readout=3, init=scheme, name="delayed_recall")  # fmt: skip
    return {
        "binary_addition": rj.TrainConfig(init=scheme),
        "delayed_recall": rj.TrainConfig(task=recall, optimizer="adam", batch_size=64,
                                         epochs=20, eval_every=10,
                                         hparams={"learning_rate": 0.03}),
    }  # fmt: skip


def figure(results: dict[str, runs.GridResult], path: Path, seeds: dict[str, int]) -> None:
    """One panel per task: each scheme's rate with its 95% interval, and its paired
    difference from Glorot."""
    fig, axes = plots.subplots(figsize=(9.5, 4.0), ncols=len(results), sharey=True)
    for ax, (task, result) in zip(np.atleast_1d(axes), results.items()):
        rows, base = result.summary(), result.points[result.baseline]["init"]
        xs = np.arange(len(rows))
        rate = np.array([r["rate"] for r in rows])
        err = [rate - [r["ci_low"] for r in rows], [r["ci_high"] for r in rows] - rate]
        ax.errorbar(xs, rate, yerr=err, fmt="o", capsize=4)
        for x, r in zip(xs, rows):
            note = f"{r['rate']:.3f}" + (
                "" if r["difference"] is None else f"\n{r['difference']:+.3f} vs {base}"
            )
            ax.annotate(note, (x, r["rate"]), textcoords="offset points", xytext=(8, -6),
                        fontsize=8)  # fmt: skip
        ax.set_xticks(xs, [p["init"] for p in result.points])
        ax.set_xlim(-0.5, len(rows) - 0.05)
        ax.set_xlabel("initialisation scheme")
        ax.set_title(f"{task} ({seeds[task]} shared seeds)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("convergence rate (95% Wilson interval)")
    np.atleast_1d(axes)[0].set_ylim(-0.02, 1.02)
    plots.save(fig, path)


def main(argv=None, context=None) -> dict:
    args, context = cli.start(Args, argv, __doc__, context)
    runs.use_cpu_cores()
    seeds = {"binary_addition": args.adder_seeds, "delayed_recall": args.recall_seeds}
    if len(set(args.schemes)) != len(args.schemes) or len(args.schemes) < 2:
        raise ValueError(f"--schemes needs two or more different schemes of {INIT_SCHEMES}")
    trains = {s: {k: rj.make_train(c) for k, c in structures(s).items()} for s in args.schemes}
    out = args.output.folder(Path("results") / "init_study")
    results, sections = {}, []
    with cli.run_folder(out, "init_study", args, context, parts=PARTS) as folder:
        for task, n in seeds.items():
            grid = runs.run_grid(
                [trains[s][task] for s in args.schemes],
                n,
                names=list(args.schemes),
                base_seed=args.seed,
                out_dir=out / task,
                overwrite=args.output.overwrite,
                progress=args.progress,
                processes=context.processes,
                cache=context.cache,
            )
            # the structures differ by their init scheme alone: label them by it
            grid = grid._replace(points=[{"init": s} for s in args.schemes])
            results[task] = grid
            sections.append(f"### {task}, {n} seeds\n\n{grid.markdown()}\n")
        md = "\n".join(sections) + (
            f"\nEvery scheme trains the same seeds (base seed {args.seed}): the differences "
            "are paired (Newcombe's interval, exact McNemar test, Holm-adjusted).\n"
        )
        per_seed = {f"{task}.csv": _per_seed_csv(r) for task, r in results.items()}
        if context.processes.writer:
            figure(results, out / "init_study.png", seeds)
        folder.commit({"init_study.md": md.encode(), **per_seed}, seeds=sum(seeds.values()))
    print(md)
    return {task: r.summary() for task, r in results.items()}


def _per_seed_csv(result: runs.GridResult) -> bytes:
    """The grid's tidy per-seed table (every seed under every scheme) as CSV bytes."""
    return runs.files.csv_bytes(result.table())


if __name__ == "__main__":
    cli.script(main)
