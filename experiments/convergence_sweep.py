"""How often does training converge? Many seeds at once, per task x optimizer x hyperparameter.

One configuration::

    python experiments/convergence_sweep.py --task binary_addition \
        --optimizer rmsprop_nesterov --seeds 1000 --out DIR

writes ``DIR/config.json``, ``DIR/per_seed.csv``, ``DIR/curves.npz`` and ``DIR/metrics.json``
(seeds, converged, rate, ci95, diverged, median_steps_to_converge, train_seconds,
seeds_per_second, ...). ``--resume`` continues an interrupted sweep in the same ``--out``.

Grid mode (``--grid``) runs every optimizer in ``--grid-optimizers`` x every value of the task's
hyperparameter axis (binary addition: ``--grid-hidden`` sizes; each size at every
``--grid-learning-rates`` value, vmapped as a traced argument) and writes ``grid.csv``,
``grid.md`` and ``grid.png`` (rates with 95% intervals) under ``--out``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from rnn_jax import OPTIMIZERS, TrainConfig, io, make_train, plots, run_sweep, stats, use_cpu_cores
from rnn_jax._src.train import TUNED_LEARNING_RATES


@dataclasses.dataclass(frozen=True)
class Args:
    """Convergence sweep over seeds (see the module docstring)."""

    train: TrainConfig = TrainConfig()
    """the training run (flags --task, --optimizer, --learning-rate, --hidden, ...)."""
    seeds: int = 1000
    seed: int = 0
    chunk_size: int = 1000
    out: str | None = None
    resume: bool = False
    progress: bool = True
    grid: bool = False
    grid_optimizers: tuple[str, ...] = (
        "sgd",
        "momentum",
        "adam",
        "rmsprop",
        "rmsprop_nesterov",
        "rprop_seed",
        "irprop-",
        "irprop+",
    )
    grid_hidden: tuple[int, ...] = (2, 3, 4, 6, 8)
    grid_learning_rates: tuple[float, ...] = ()
    """empty: each optimizer's tuned rate (TUNED_LEARNING_RATES; Rprop: Δ0 = 0.01)."""


def grid_config(args: Args, optimizer: str, hidden: int) -> TrainConfig:
    lr = TUNED_LEARNING_RATES.get(optimizer, 0.01)
    return dataclasses.replace(args.train, optimizer=optimizer, hidden=hidden, learning_rate=lr)


def sweep_one(args: Args, cfg: TrainConfig, out: Path, hparams=None, resume=None) -> dict:
    result = run_sweep(
        make_train(cfg),
        args.seeds,
        base_seed=args.seed,
        chunk_size=args.chunk_size,
        hparams=hparams,
        out_dir=out,
        config=dataclasses.asdict(cfg),
        resume=args.resume if resume is None else resume,
        progress=args.progress,
    )
    metrics = {"config": dataclasses.asdict(cfg), "hparams": hparams, **result["summary"]}
    io.write_json(out / "metrics.json", metrics)
    return metrics


def _fmt_rate(m: dict) -> str:
    lo, hi = m["ci95"]
    return f"{m['rate']:.3f} [{lo:.3f}, {hi:.3f}]"


def run_grid(args: Args, out: Path) -> list[dict]:
    rows = []
    for opt in args.grid_optimizers:
        for hidden in args.grid_hidden:
            cfg = grid_config(args, opt, hidden)
            lrs = args.grid_learning_rates or (cfg.learning_rate,)
            for lr in lrs:
                cell = out / f"{opt}_h{hidden}_lr{lr:g}"
                print(f"{opt:>16}  hidden={hidden}  lr={lr:g}", file=sys.stderr)
                m = sweep_one(args, cfg, cell, hparams={"learning_rate": lr}, resume=args.resume)
                row = stats.table_row(m, optimizer=opt, hidden=hidden, learning_rate=lr)
                rows.append({**row, "seeds_per_second": m["seeds_per_second"] or 0.0})
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    io.write_csv(out / "grid.csv", cols)
    lines = [
        "| optimizer | hidden | lr | converged / seeds | rate [95% CI] | diverged |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        m = {"rate": r["rate"], "ci95": [r["ci_low"], r["ci_high"]]}
        lines.append(
            f"| {r['optimizer']} | {r['hidden']} | {r['learning_rate']:g} | "
            f"{r['converged']} / {r['seeds']} | {_fmt_rate(m)} | {r['diverged']} |"
        )
    (out / "grid.md").write_text("\n".join(lines) + "\n")
    plots.rates_figure(
        rows,
        out / "grid.png",
        title=f"{args.train.task}: convergence rate, {args.seeds} seeds each (95% Wilson CIs)",
    )
    print("\n".join(lines))
    return rows


def main(argv=None) -> dict | list:
    args = io.cli(Args, argv, description=__doc__.split("\n\n")[0])
    use_cpu_cores()  # one device per core: the sweep shards its seeds over them
    try:
        for o in args.grid_optimizers:
            if o not in OPTIMIZERS:
                raise ValueError(f"--optimizer must be one of {OPTIMIZERS}, got {o!r}")
        cfg = args.train
        name = "grid" if args.grid else f"{cfg.optimizer}_h{cfg.hidden}"
        out = io.run_dir(args.out, f"convergence_{cfg.task}", name)
        if args.grid:
            return run_grid(args, out)
        m = sweep_one(args, cfg, out)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    lo, hi = m["ci95"]
    print(
        f"{cfg.task} / {cfg.optimizer}: {m['converged']}/{m['seeds']} converged, rate "
        f"{m['rate']:.3f} (95% CI {lo:.3f}-{hi:.3f}), diverged {m['diverged']}, median steps "
        f"{m['median_steps_to_converge']}, {m['seeds_per_second'] or float('nan'):.0f} seeds/s"
        f" -> {out}"
    )
    return m


if __name__ == "__main__":
    main()
