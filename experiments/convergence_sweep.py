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
per structure for all of them). Each point is saved in ``OUT/<optimizer>_h<hidden>/<point>/``;
``OUT/per_seed.csv`` is the tidy table of every seed at every point, ``OUT/grid.csv`` and
``OUT/grid.md`` one row per point (each compared with the first, paired over the shared
seeds), ``OUT/grid.png`` the rates with 95% intervals (against the traced axis when there is
one) and ``OUT/heatmap.png`` the rate over that axis x ``--grid-hidden``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import rnn_jax as rj
from rnn_jax import runs, stats
from rnn_jax.runs import cli, files, plots

#: Arguments that choose which sweeps a grid runs; each sweep's folder records its identity.
PARTS = ("grid_optimizers", "grid_hidden", "grid", "seeds")


@dataclasses.dataclass(frozen=True)
class Args:
    """Convergence sweep over seeds (see the module docstring)."""

    train: cli.TrainFlags = cli.TrainFlags()
    """the training run (flags --task, --optimizer, --hparams KEY VALUE ..., --hidden, ...)."""
    seeds: int = 1000
    seed: int = 0
    chunk_size: int = 1000
    output: cli.Output = cli.Output()
    """--out DIR, --overwrite (move another run aside), --resume (accepted)."""
    compile_cache: cli.CompileCache = cli.CompileCache()
    """--no-cache, --cache-dir DIR: the persistent compilation cache (on by default)."""
    processes: cli.ProcessFlags = cli.ProcessFlags()
    """--coordinator HOST:PORT --num-processes N --process-id I: one sweep over several
    processes (README, "Several machines")."""
    progress: bool = True
    grid_optimizers: tuple[str, ...] | None = None
    """a grid over these optimizers (default: --optimizer only)."""
    grid_hidden: tuple[int, ...] | None = None
    """a grid over these hidden sizes (default: --hidden only)."""
    grid: tuple[str, ...] | None = None
    """traced grid axes, each KEY=V1,V2,... (e.g. learning_rate=0.01,0.03,0.1)."""


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


def sweep_one(args: Args, out: Path, context: cli.Context) -> dict:
    train = rj.make_train(args.train.config())
    result = runs.run_sweep(
        train,
        args.seeds,
        base_seed=args.seed,
        chunk_size=args.chunk_size,
        out_dir=out,
        overwrite=args.output.overwrite,
        progress=args.progress,
        processes=context.processes,
    )
    drawn = all((out / name).is_file() for name in ("loss.png", "ecdf.png"))
    if not context.processes.writer or (drawn and not result.trained):
        return {"hparams": result.hparams, **result.summary}
    what = f"{train.task.name} / {train.optimizer.name}, {args.seeds} seeds"
    plots.loss_bands_figure(result.curves["update"], result.curves["loss"],
                            result.table["converged"], out / "loss.png",
                            title=f"{what}: training loss (median, 10-90% of seeds)")  # fmt: skip
    plots.ecdf_figure({train.optimizer.name: (result.table["steps_to_converge"],
                                              result.table["converged"])},
                      train.steps, out / "ecdf.png",
                      title=f"{what}: updates to converge (evaluated every "
                            f"{train.config.eval_every})")  # fmt: skip
    return {"hparams": result.hparams, **result.summary}


def _fmt_rate(m: dict) -> str:
    lo, hi = m["ci95"]
    return f"{m['rate']:.3f} [{lo:.3f}, {hi:.3f}]"


def _csv_value(v):
    return float("nan") if v is None else v


def grid_figures(rows: list[dict], axes: dict, out: Path, what: str) -> list[str]:
    """grid.png: rate against the one traced axis (one line per optimizer and hidden size,
    95% bands), or the rates as points when there is none; heatmap.png: rate over that axis x
    hidden size when both vary."""
    names = ["grid.png"]
    groups = {(r["optimizer"], r["hidden"]) for r in rows}
    labelled = [{**r, "setting": f"{r['optimizer']} H={r['hidden']}"} for r in rows]
    if len(axes) == 1:
        (x,) = axes
        plots.rate_curve_figure(labelled, out / "grid.png", x=x, group="setting",
                                title=f"{what}: convergence rate (95% Wilson bands)")  # fmt: skip
        hiddens = {r["hidden"] for r in rows}
        if len(hiddens) > 1 and len({r["optimizer"] for r in rows}) == 1:
            plots.heatmap_figure(rows, out / "heatmap.png", x=x, y="hidden",
                                 title=f"{what}: convergence rate [95% CI]")  # fmt: skip
            names.append("heatmap.png")
    elif len(groups) > 1 and not axes and len({r["optimizer"] for r in rows}) == 1:
        title = f"{what}: convergence rate (95% Wilson bands)"
        plots.rate_curve_figure(
            rows, out / "grid.png", x="hidden", group="optimizer", logx=False, title=title
        )
    else:
        by_setting = [{**r, "optimizer": r["setting"]} for r in labelled]
        plots.rates_figure(
            by_setting, out / "grid.png", title=f"{what}: convergence rate", xlabel="setting"
        )
    return names


def run_grid(args: Args, out: Path, context: cli.Context) -> list[dict]:
    optimizers = args.grid_optimizers or (args.train.optimizer,)
    hiddens = args.grid_hidden or (args.train.hidden,)
    axes = parse_grid(args.grid or ())
    config = args.train.config()
    structures = [
        rj.make_train(dataclasses.replace(config, optimizer=o, hidden=h))
        for o in optimizers
        for h in hiddens
    ]  # every structure and every point is checked before anything compiles
    for train in structures:
        for point in runs.grid_points(axes or [{}]):
            train.check_hparams(point)
    with cli.run_folder(out, "convergence_grid", args, context, parts=PARTS) as folder:
        rows, tidy, outcomes = [], [], []
        for train in structures:
            opt, hidden = train.optimizer.name, train.config.hidden
            results = runs.run_grid(
                train,
                args.seeds,
                axes or [{}],
                base_seed=args.seed,
                chunk_size=args.chunk_size,
                out_dir=out / f"{opt}_h{hidden}",
                overwrite=args.output.overwrite,
                progress=args.progress,
                processes=context.processes,
            )
            for r in results:
                outcomes.append(r.table["converged"])
                row = stats.table_row(r.summary, optimizer=opt, hidden=hidden, **r.hparams)
                rows.append({**row, "seeds_per_second": r.summary["seeds_per_second"] or 0.0})
                n = len(r.table["seed"])
                tidy.append({"optimizer": [opt] * n, "hidden": [hidden] * n, **r.table})
        hp_keys = sorted({k for t in structures for k in t.hparams})
        outcome = [k for k in tidy[0] if k not in ("optimizer", "hidden", "seed", *hp_keys)]
        tidy_keys = ["optimizer", "hidden", "seed", *hp_keys, *outcome]
        per_seed = {
            k: [v for t in tidy for v in t.get(k, [float("nan")] * len(t["seed"]))]
            for k in tidy_keys
        }
        # Every point ran on the same seeds (same base seed): compare each with the first,
        # paired, with Holm's correction over the comparisons.
        paired = stats.compare_to_baseline(dict(enumerate(outcomes)), 0)
        for i, r in enumerate(rows):
            d = paired.get(i)
            r["vs_first"] = None if d is None else d["difference"]
            r["vs_first_ci_low"], r["vs_first_ci_high"] = (None, None) if d is None else d["ci95"]
            r["vs_first_p_holm"] = None if d is None else d["p_holm"]
        keys = list(dict.fromkeys(k for r in rows for k in r))
        grid_csv = {k: [_csv_value(r.get(k)) for r in rows] for k in keys}
        head = (
            "| optimizer | hidden | hyperparameters | converged / seeds | rate [95% CI] | "
            "diverged | vs first row [95% CI, paired] | p (McNemar, Holm) | only it / only first |"
        )
        lines = [head, "|---|---:|---|---:|---|---:|---|---:|---:|"]
        for i, r in enumerate(rows):
            m = {"rate": r["rate"], "ci95": [r["ci_low"], r["ci_high"]]}
            hp = ", ".join(f"{k} {r[k]:g}" for k in axes) or "defaults"
            d = paired.get(i)
            versus = (
                "(baseline) | | "
                if d is None
                else f"{d['difference']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] | "
                f"{stats.format_p(d['p_holm'])} | {d['only_a']} / {d['only_b']}"
            )
            lines.append(
                f"| {r['optimizer']} | {r['hidden']} | {hp} | "
                f"{r['converged']} / {r['seeds']} | {_fmt_rate(m)} | {r['diverged']} | {versus} |"
            )
        lines += ["", f"All points share the same {args.seeds} seeds (base seed {args.seed})."]
        folder.commit(
            {
                "grid.csv": files.csv_bytes(grid_csv),
                "per_seed.csv": files.csv_bytes(per_seed),
                "grid.md": ("\n".join(lines) + "\n").encode(),
            },
            seeds=sum(len(t["seed"]) for t in tidy),
        )
        if context.processes.writer:
            grid_figures(rows, axes, out, f"{structures[0].task.name}, {args.seeds} seeds")
    print("\n".join(lines))
    return rows


def main(argv=None, context=None) -> dict | list:
    args, context = cli.start(Args, argv, __doc__, context)
    runs.use_cpu_cores()  # one device per core: the sweep shards its seeds over them
    for flag in ("grid_optimizers", "grid_hidden", "grid"):
        if getattr(args, flag) == ():
            raise ValueError(f"--{flag.replace('_', '-')} needs at least one value")
    for o in args.grid_optimizers or ():
        if o not in rj.OPTIMIZERS:
            raise ValueError(f"--grid-optimizers: {o!r} is not one of {sorted(rj.OPTIMIZERS)}")
    cfg = args.train
    grid = any(g is not None for g in (args.grid_optimizers, args.grid_hidden, args.grid))
    name = "grid" if grid else f"{cfg.optimizer}_h{cfg.hidden}"
    out = args.output.folder(Path("results") / f"convergence_{cfg.task}" / name)
    if grid:
        return run_grid(args, out, context)
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
