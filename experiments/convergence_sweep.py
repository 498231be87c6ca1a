"""How often does training converge? Many seeds at once, per task x optimizer x hyperparameter.

One configuration::

    python experiments/convergence_sweep.py --task binary_addition \
        --optimizer adam --hparams learning_rate 0.1 --seeds 1000 --out DIR

writes ``DIR/config.json``, ``DIR/per_seed.csv`` (one row per seed, with the hyperparameters'
values), ``DIR/curves.npz`` (loss and accuracy against the update count) and
``DIR/metrics.json``. ``--resume`` continues an interrupted sweep in the same ``--out``.

A grid: ``--grid-optimizers`` x ``--grid-hidden`` (each a compiled structure) x the traced
values of ``--grid KEY=V1,V2,...`` (any hyperparameter the optimizer or task reads; one compile
per structure for all of them). Each point is saved in ``OUT/<optimizer>_h<hidden>/<point>/``;
``OUT/per_seed.csv`` is the tidy table of every seed at every point, ``OUT/grid.csv`` and
``OUT/grid.md`` one row per point, ``OUT/grid.png`` the rates with 95% intervals.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import rnn_jax as rj
from rnn_jax import io, plots, stats


@dataclasses.dataclass(frozen=True)
class Args:
    """Convergence sweep over seeds (see the module docstring)."""

    train: rj.TrainConfig = rj.TrainConfig()
    """the training run (flags --task, --optimizer, --hparams KEY VALUE ..., --hidden, ...)."""
    seeds: int = 1000
    seed: int = 0
    chunk_size: int = 1000
    out: str | None = None
    resume: bool = False
    progress: bool = True
    grid_optimizers: tuple[str, ...] = ()
    """a grid over these optimizers (default: --optimizer only)."""
    grid_hidden: tuple[int, ...] = ()
    """a grid over these hidden sizes (default: --hidden only)."""
    grid: tuple[str, ...] = ()
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


def summary_metrics(train: rj.Train, result: rj.SweepResult) -> dict:
    return {"config": train.config.to_json(), "hparams": result.hparams, **result.summary}


def sweep_one(args: Args, out: Path) -> dict:
    train = rj.make_train(args.train)
    result = rj.run_sweep(
        train,
        args.seeds,
        base_seed=args.seed,
        chunk_size=args.chunk_size,
        out_dir=out,
        resume=args.resume,
        progress=args.progress,
    )
    metrics = summary_metrics(train, result)
    io.write_json(out / "metrics.json", metrics)
    return metrics


def _fmt_rate(m: dict) -> str:
    lo, hi = m["ci95"]
    return f"{m['rate']:.3f} [{lo:.3f}, {hi:.3f}]"


def run_grid(args: Args, out: Path) -> list[dict]:
    optimizers = args.grid_optimizers or (args.train.optimizer,)
    hiddens = args.grid_hidden or (args.train.hidden,)
    axes = parse_grid(args.grid)
    structures = [
        rj.make_train(dataclasses.replace(args.train, optimizer=o, hidden=h))
        for o in optimizers
        for h in hiddens
    ]  # every structure and every point is checked before anything compiles
    for train in structures:
        for point in rj.grid_points(axes or [{}]):
            train.check_hparams(point)
    rows, tidy = [], []
    for train in structures:
        opt, hidden = train.optimizer.name, train.config.hidden
        results = rj.run_grid(
            train,
            args.seeds,
            axes or [{}],
            base_seed=args.seed,
            chunk_size=args.chunk_size,
            out_dir=out / f"{opt}_h{hidden}",
            resume=args.resume,
            progress=args.progress,
        )
        for r in results:
            io.write_json(r.out_dir / "metrics.json", summary_metrics(train, r))
            row = stats.table_row(r.summary, optimizer=opt, hidden=hidden, **r.hparams)
            rows.append({**row, "seeds_per_second": r.summary["seeds_per_second"] or 0.0})
            n = len(r.table["seed"])
            tidy.append({"optimizer": [opt] * n, "hidden": [hidden] * n, **r.table})
    keys = list(dict.fromkeys(k for r in rows for k in r))
    io.write_csv(out / "grid.csv", {k: [r.get(k, float("nan")) for r in rows] for k in keys})
    hp_keys = sorted({k for r in rows for k in r} & {k for t in structures for k in t.hparams})
    outcome = [k for k in tidy[0] if k not in ("optimizer", "hidden", "seed", *hp_keys)]
    tidy_keys = ["optimizer", "hidden", "seed", *hp_keys, *outcome]
    io.write_csv(
        out / "per_seed.csv",
        {
            k: [v for t in tidy for v in t.get(k, [float("nan")] * len(t["seed"]))]
            for k in tidy_keys
        },
    )
    lines = [
        "| optimizer | hidden | hyperparameters | converged / seeds | rate [95% CI] | diverged |",
        "|---|---:|---|---:|---|---:|",
    ]
    for r in rows:
        m = {"rate": r["rate"], "ci95": [r["ci_low"], r["ci_high"]]}
        hp = ", ".join(f"{k} {r[k]:g}" for k in axes) or "defaults"
        lines.append(
            f"| {r['optimizer']} | {r['hidden']} | {hp} | "
            f"{r['converged']} / {r['seeds']} | {_fmt_rate(m)} | {r['diverged']} |"
        )
    (out / "grid.md").write_text("\n".join(lines) + "\n")
    plots.rates_figure(
        rows,
        out / "grid.png",
        title=f"{structures[0].task.name}: convergence rate, {args.seeds} seeds each "
        "(95% Wilson CIs)",
    )
    print("\n".join(lines))
    return rows


def main(argv=None) -> dict | list:
    args = io.cli(Args, argv, description=__doc__.split("\n\n")[0])
    rj.use_cpu_cores()  # one device per core: the sweep shards its seeds over them
    try:
        for o in args.grid_optimizers:
            rj.OPTIMIZERS[o]  # noqa: B018 - an unknown name is a one-line error
        cfg = args.train
        grid = bool(args.grid_optimizers or args.grid_hidden or args.grid)
        name = "grid" if grid else f"{cfg.optimizer}_h{cfg.hidden}"
        out = io.run_dir(args.out, f"convergence_{cfg.task}", name)
        if grid:
            return run_grid(args, out)
        m = sweep_one(args, out)
    except (ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
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
    main()
