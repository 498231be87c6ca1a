"""Compare saved sweeps: the first is the baseline, each other one is compared with it.

    python experiments/compare.py results/study/sweeps/rmsprop_nesterov \
        results/study/sweeps/adam results/study/sweeps/sgd
    python experiments/compare.py results/grid --points optimizer=adam   # a grid's points

Each folder is a sweep folder, or a grid's folder (every sweep below it, or those matching
``--points``). For each comparison the table says which settings differ from the baseline's
and whether the seeds pair: sweeps with the same base seed are compared seed by seed
(Newcombe's paired interval, exact McNemar p-value, Holm over the paired comparisons), others
unpaired. Sweeps of another task or criterion are refused unless ``--allow-different``. Every
folder is read verified; with ``--out DIR`` the table is saved as a results folder of its own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import tyro

from rnn_jax import runs
from rnn_jax._src.runs.compare import compare_sweeps
from rnn_jax.runs import cli, files


@dataclasses.dataclass(frozen=True)
class Args:
    """Compare sweep folders with the first one (paired when they share their seeds)."""

    folders: Annotated[
        tyro.conf.Positional[tuple[str, ...]],
        tyro.conf.arg(
            help="sweep folders or grid folders; the first sweep is the baseline.",
            metavar="FOLDER",
            help_behavior_hint="(two or more)",
        ),
    ]
    points: Annotated[
        tuple[str, ...],
        cli.flag(
            "take only a grid's points with these labels (e.g. learning_rate=0.1,0.3).",
            "KEY=VALUE",
            "all",
        ),
    ] = ()
    allow_different: Annotated[
        bool, cli.flag("compare sweeps of different tasks or criteria anyway.")
    ] = False
    out: Annotated[
        str | None,
        cli.flag(
            "save the table in this folder (a results folder of its own).", "DIR", "print only"
        ),
    ] = None


def _matches(labels: dict, points: tuple[str, ...]) -> bool:
    """Whether a grid point's labels take, for every key ``points`` names, one of the values
    given for it (``learning_rate=0.1 learning_rate=0.3`` or ``learning_rate=0.1,0.3``)."""
    wanted: dict[str, list[str]] = {}
    for spec in points:
        key, sep, values = spec.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--points takes KEY=VALUE, got {spec!r}")
        wanted.setdefault(key.strip(), []).extend(v.strip() for v in values.split(","))
    for key, values in wanted.items():
        have = labels.get(key)
        if have is None or not any(str(have) == v or _same_number(have, v) for v in values):
            return False
    return True


def _same_number(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def expand(folders, points) -> tuple[list, list[str]]:
    """The sweeps the folders hold: a sweep folder is one, a grid's folder each of its
    points (those matching ``points``)."""
    sweeps, names = [], []
    for folder in folders:
        path = Path(folder)
        config = path / "config.json"
        kind = files.read_json(config).get("kind") if config.is_file() else None
        if kind == "sweep":
            sweeps.append(runs.load_sweep(path))
            names.append(str(path))
            continue
        grid = runs.load_grid(path)
        chosen = [(p, s) for p, s in zip(grid.points, grid.sweeps) if _matches(p, points)]
        if not chosen:
            raise ValueError(f"{path}: no point of the grid matches --points {' '.join(points)}")
        for _, s in chosen:
            sweeps.append(s)
            names.append(str(s.out_dir))
    return sweeps, names


def main(argv=None, context=None) -> list[dict]:
    args, context = cli.start(Args, argv, __doc__, context)
    sweeps, names = expand(args.folders, args.points)
    if len(sweeps) < 2:
        raise ValueError(
            "give at least two sweeps (folders, or a grid's points): the baseline first"
        )
    result = compare_sweeps(sweeps, names, allow_different=args.allow_different)
    if args.out is not None:
        out = cli.out_folder(args.out, Path(args.out))
        identity = {"kind": "comparison", "sweeps": [s.identity for s in sweeps], "names": names}
        with runs.RunFolder(out, identity, processes=context.processes, what="--out") as folder:
            folder.commit({"comparison.md": (result.markdown + "\n").encode()}, seeds=0)
    print(result.markdown)
    return result.rows


if __name__ == "__main__":
    cli.script(main)
