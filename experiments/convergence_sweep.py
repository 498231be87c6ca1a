"""How often does training converge? Many seeds at once, per task x optimizer x hyperparameter.

One configuration::

    python experiments/convergence_sweep.py --task binary_addition \
        --optimizer adam --hparams learning_rate 0.1 --seeds 1000 --out DIR

writes ``DIR/config.json``, ``DIR/per_seed.csv`` (one row per seed, with the hyperparameters'
values), ``DIR/curves.npz`` (loss and accuracy against the update count) and
``DIR/metrics.json``, and the figures ``DIR/loss.png`` (median and 10-90% band of the
loss curves, converged and failed seeds apart) and ``DIR/ecdf.png`` (updates to converge).
The same command again continues an interrupted sweep, or reuses a finished one; another
configuration into the same ``--out`` is refused (``--overwrite`` moves the old run aside).

A grid: ``--grid-optimizers`` x ``--grid-hidden`` (each a compiled structure) x the traced
values of ``--grid KEY=V1,V2,...`` (any hyperparameter the optimizer or task reads; one compile
per structure for all of them), on the same seeds (``rnn_jax.runs.run_grid``). Each point is
saved in its own folder below ``OUT``; ``OUT/per_seed.csv`` is the tidy table of every seed at
every point, ``OUT/grid.csv`` and ``OUT/grid.md`` one row per point, each compared with the
``--baseline`` point (default: the first) paired over the shared seeds, ``OUT/grid.png`` the
rates with 95% intervals and ``OUT/heatmap.png`` the rate over a traced axis x
``--grid-hidden``.

Your own optimizer or task: ``--optimizer optax:lion``, ``--optimizer my_module:signum``,
``--task my_module:make_task --task-args hidden=8`` (see ``--help`` and ``--list``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import rnn_jax as rj
from rnn_jax import runs
from rnn_jax.runs import cli, plots

#: Arguments that choose which sweeps a grid runs; each sweep's folder records its identity.
PARTS = ("grid_optimizers", "grid_hidden", "grid", "seeds", "baseline")


@dataclasses.dataclass(frozen=True)
class Args:
    """Convergence sweep over seeds (see the module docstring)."""

    train: cli.TrainFlags = cli.TrainFlags()
    seeds: Annotated[int, cli.flag("how many seeds (the same seeds at every grid point).", "N")] = (
        1000
    )
    seed: Annotated[
        int, cli.flag("the base seed: seed i trains from key(SEED) folded with i.", "SEED")
    ] = 0
    chunk_size: Annotated[int, cli.flag("seeds per compiled call (memory and saving).", "N")] = 1000
    progress: Annotated[bool, cli.flag("show a progress line.")] = True
    grid_optimizers: Annotated[
        tuple[str, ...] | None,
        cli.flag("a grid over these optimizers (as --optimizer).", "NAME", "--optimizer only"),
    ] = None
    grid_hidden: Annotated[
        tuple[int, ...] | None, cli.flag("a grid over these hidden sizes.", "H", "--hidden only")
    ] = None
    grid: Annotated[
        tuple[str, ...] | None,
        cli.flag(
            "traced grid axes, e.g. learning_rate=0.01,0.03,0.1 momentum=0,0.9.", "KEY=V,V", "none"
        ),
    ] = None
    baseline: Annotated[
        tuple[str, ...],
        cli.flag("the grid point the others are compared with.", "KEY=VALUE", "the first"),
    ] = ()
    output: cli.Output = cli.Output()
    compile_cache: cli.CompileCache = cli.CompileCache()
    processes: cli.ProcessFlags = cli.ProcessFlags()


def parse_grid(specs: tuple[str, ...]) -> dict[str, list[float]]:
    """``("learning_rate=0.01,0.1",)`` -> ``{"learning_rate": [0.01, 0.1]}``."""
    grid: dict[str, list[float]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        try:
            grid[key.strip()] = [float(v) for v in values.split(",")] if sep else []
        except ValueError:
            grid[key.strip()] = []
        if not key.strip() or not grid[key.strip()]:
            raise ValueError(f"--grid must be KEY=V1,V2,... (numbers), got {spec!r}")
    return grid


def parse_baseline(specs: tuple[str, ...]) -> dict | None:
    """``("optimizer=adam", "learning_rate=0.1")`` -> ``{"optimizer": "adam", ...}``."""
    out = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--baseline takes KEY=VALUE, got {spec!r}")
        out[key.strip()] = value.strip()
    return out or None


def _sweep_options(args: Args, out: Path, context: cli.Context) -> dict:
    """What run_sweep and run_grid take from the command line alike."""
    return dict(
        base_seed=args.seed,
        chunk_size=args.chunk_size,
        out_dir=out,
        overwrite=args.output.overwrite,
        progress=args.progress,
        processes=context.processes,
        cache=context.cache,
    )


def sweep_one(args: Args, out: Path, context: cli.Context) -> dict:
    train = rj.make_train(args.train.config())
    result = runs.run_sweep(train, args.seeds, **_sweep_options(args, out, context))
    drawn = all((out / name).is_file() for name in ("loss.png", "ecdf.png"))
    if context.processes.writer and not (drawn and not result.trained):
        what = f"{train.task.name} / {train.optimizer.name}, {args.seeds} seeds"
        table, curves = result.table, result.curves
        plots.loss_bands_figure(
            curves["update"],
            curves["loss"],
            table["converged"],
            out / "loss.png",
            title=f"{what}: training loss (median, 10-90% of seeds)",
        )
        plots.ecdf_figure(
            {train.optimizer.name: (table["first_converged_update"], table["converged"])},
            train.steps,
            out / "ecdf.png",
            title=f"{what}: updates to converge (evaluated every {train.config.eval_every})",
        )
    return {"hparams": result.hparams, **result.summary}


def grid(args: Args, out: Path, context: cli.Context) -> list[dict]:
    config = args.train.config()
    optimizers = args.grid_optimizers or (args.train.optimizer,)
    hiddens = args.grid_hidden or (args.train.hidden,)
    axes = parse_grid(args.grid) if args.grid else None
    # a swept hyperparameter needs no default of its own: the grid's first value serves
    defaults = {k: v[0] for k, v in (axes or {}).items() if k not in config.hparams}
    config = dataclasses.replace(config, hparams={**defaults, **config.hparams})
    structures = [
        rj.make_train(dataclasses.replace(config, optimizer=o, hidden=h))
        for o in optimizers
        for h in hiddens
    ]
    # every structure at every point, and the baseline, checked before the folder is opened
    runs.check_grid(structures, axes, baseline=parse_baseline(args.baseline))
    with cli.run_folder(out, "convergence_grid", args, context, parts=PARTS) as folder:
        result = runs.run_grid(
            structures,
            args.seeds,
            axes,
            baseline=parse_baseline(args.baseline),
            **_sweep_options(args, out, context),
        )
        runs.save_grid(result, folder, f"{structures[0].task.name}, {args.seeds} seeds")
    print(result.markdown())
    return result.summary()


def main(argv=None, context=None) -> dict | list:
    args, context = cli.start(Args, argv, __doc__, context)
    runs.use_cpu_cores()  # one device per core: the sweep shards its seeds over them
    for flag in ("grid_optimizers", "grid_hidden", "grid"):
        if getattr(args, flag) == ():
            raise ValueError(f"--{flag.replace('_', '-')} needs at least one value")
    cfg = args.train
    is_grid = any(g is not None for g in (args.grid_optimizers, args.grid_hidden, args.grid))
    if args.baseline and not is_grid:
        raise ValueError("--baseline chooses a point of a grid (--grid, --grid-optimizers, ...)")
    task = cfg.task.replace(":", "-")
    name = "grid" if is_grid else f"{cfg.optimizer.replace(':', '-')}_h{cfg.hidden}"
    out = args.output.folder(Path("results") / f"convergence_{task}" / name)
    if is_grid:
        return grid(args, out, context)
    m = sweep_one(args, out, context)
    lo, hi = m["ci95"]
    sps = m["seeds_per_second"]
    hp = ", ".join(f"{k} {v:g}" for k, v in m["hparams"].items())
    print(
        f"{cfg.task} / {cfg.optimizer} ({hp}): {m['converged']}/{m['seeds']} converged, "
        f"rate {m['rate']:.3f} (95% CI {lo:.3f}-{hi:.3f}), "
        f"diverged {m['diverged']}, median steps {m['median_steps_to_converge']}"
        + (f", {sps:.0f} seeds/s" if sps else "")
        + f" -> {out}"
    )
    return m


if __name__ == "__main__":
    cli.script(main)
