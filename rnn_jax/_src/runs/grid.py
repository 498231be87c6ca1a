"""Grids as results: many sweeps on the same seeds, tabulated and compared with a baseline.

A grid is every *structure* (a training run that compiles on its own: another optimizer,
another hidden size) at every *point* of its traced hyperparameters (learning rates, momenta:
one compile per structure for all of them). Every sweep of a grid shares its seeds, so each
point is compared with a chosen baseline point **paired**, seed by seed (Newcombe's interval,
exact McNemar test, Holm's correction over the comparisons). :func:`run_grid` runs one and
returns a :class:`GridResult`; :func:`load_grid` reads one back from its folder.
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rnn_jax._src import checks, stats
from rnn_jax._src.runs import files, store
from rnn_jax._src.runs.engine import check_base_seed, check_train
from rnn_jax._src.runs.folder import CONFIG, RunFolder, RunFolderError
from rnn_jax._src.runs.processes import Processes
from rnn_jax._src.runs.runner import _engine, run_sweep
from rnn_jax._src.runs.store import SweepResult

#: What a hyperparameter's name may look like (it names a folder of a grid).
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

#: Files a grid's folder holds besides its sweeps.
GRID_TABLE, GRID_MARKDOWN, GRID_SEEDS = "grid.csv", "grid.md", "per_seed.csv"


def grid_points(grid: Mapping[str, Sequence[float]] | Sequence[Mapping[str, float]]) -> list[dict]:
    """A grid as a list of points.

    Args:
      grid: a mapping of value lists (its cartesian product, in the order given, the last key
        varying fastest), or a list of mappings (taken as it is).

    Returns:
      The points, each ``{name: value}``; a repeated point is refused.

    Example:
      >>> grid_points({"learning_rate": [0.01, 0.1], "momentum": [0.0, 0.9]})[1]
      {'learning_rate': 0.01, 'momentum': 0.9}
    """
    if isinstance(grid, Mapping):
        keys = list(grid)
        for k in keys:
            if isinstance(grid[k], str) or not isinstance(grid[k], Sequence) or not grid[k]:
                raise ValueError(f"grid[{k!r}] must be a non-empty list of values")
        points = [dict(zip(keys, values)) for values in itertools.product(*grid.values())]
    else:
        points = [dict(p) for p in grid]
    if not points:
        raise ValueError("grid must hold at least one point")
    for p in points:
        for k, v in p.items():
            if not isinstance(k, str) or not NAME.fullmatch(k):
                raise ValueError(
                    f"grid: {k!r} is not a hyperparameter name (letters, digits and _)"
                )
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"grid: {k} must be a number at every point, got {v!r}")
    names = [point_name(p) for p in points]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"grid: the point {repeated[0]} appears more than once")
    return points


def point_name(point: Mapping[str, float]) -> str:
    """A folder name for a grid point: ``learning_rate=0.1,b1=0.9`` (``default``: no values).

    Example:
      >>> point_name({"learning_rate": 0.1, "b1": 0.9})
      'learning_rate=0.1,b1=0.9'
    """
    return ",".join(f"{k}={_shortest(v)}" for k, v in point.items()) or "default"


def _shortest(v) -> str:
    """The shortest text that reads back as the same float (``0.1``, ``1e-05``, ``3``)."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def structure_labels(trains: Sequence) -> list[dict]:
    """What tells a grid's structures apart, per structure: the task's name where their tasks'
    names differ, the optimizer's name, and every configuration field whose value differs
    between them (``hidden``, ``cell``, ...)."""
    configs = [dataclasses.asdict(t.config) for t in trains]
    differ = [
        k
        for k in configs[0]
        if k not in ("optimizer", "hparams", "task") and len({repr(c[k]) for c in configs}) > 1
    ]
    tasks = len({t.task.name for t in trains}) > 1
    return [
        {
            **({"task": t.task.name} if tasks else {}),
            "optimizer": t.optimizer.name,
            **{k: c[k] for k in differ},
        }
        for t, c in zip(trains, configs)
    ]


class GridResult(NamedTuple):
    """What :func:`run_grid` and :func:`load_grid` return: one sweep per point, on shared seeds.

    Attributes:
      points: each point's labels, ``{name: value}``: what tells its structure apart
        (:func:`structure_labels`), then its swept hyperparameters.
      sweeps: the :class:`rnn_jax.runs.SweepResult` of each point, in order.
      baseline: the index of the point the others are compared with.
      out_dir: the grid's folder, or ``None``.

    Example:
      >>> import rnn_jax as rj, rnn_jax.runs as runs
      >>> train = rj.make_train(rj.TrainConfig(n_train=200, epochs=2, eval_every=4, bits=3))
      >>> g = runs.run_grid(train, 8, {"learning_rate": [0.01, 0.1]}, progress=False,
      ...                   microbatch=8)
      >>> [p["learning_rate"] for p in g.points], len(g.table()["seed"])
      ([0.01, 0.1], 16)
    """

    points: list[dict]
    sweeps: list[SweepResult]
    baseline: int = 0
    out_dir: Path | None = None

    @property
    def labels(self) -> list[str]:
        """The label columns, in order."""
        return list(dict.fromkeys(k for p in self.points for k in p))

    def label(self, i: int) -> str:
        """A point's name for a table: its structure's values, then ``key=value`` of its
        swept hyperparameters (``adam``, ``adam, 3, learning_rate=0.1``)."""
        parts = []
        for k, v in self.points[i].items():
            swept = isinstance(v, float) and k in self.sweeps[i].hparams
            parts.append(f"{k}={v:g}" if swept else str(v))
        return ", ".join(parts) or "default"

    def table(self) -> dict[str, np.ndarray]:
        """The tidy per-seed table of every point: the label columns, then the sweep's
        columns (``seed``, the hyperparameters' values, the outcomes); a hyperparameter a
        point does not read is NaN there."""
        columns = [*self.labels]
        for s in self.sweeps:
            columns += [c for c in s.table if c not in columns]
        out = {c: [] for c in columns}
        for point, s in zip(self.points, self.sweeps):
            n = len(s.table["seed"])
            for c in columns:
                if c in s.table:
                    out[c].append(np.asarray(s.table[c]))
                elif c in point:
                    out[c].append(np.full(n, point[c], dtype=object))
                else:
                    out[c].append(np.full(n, np.nan))
        return {c: np.concatenate(v) for c, v in out.items()}

    def curves(self) -> dict[str, np.ndarray]:
        """The loss and accuracy curves of every seed at every point, long form: the label
        columns, ``seed``, ``update``, ``loss``, ``accuracy`` (one row per seed and
        evaluation)."""
        parts = [long_curves(s.curves, point) for point, s in zip(self.points, self.sweeps)]
        keys = list(dict.fromkeys(k for p in parts for k in p))
        return {k: np.concatenate([p[k] for p in parts]) for k in keys}

    def summary(self) -> list[dict]:
        """One row per point: its labels, its other hyperparameters' values,
        :func:`rnn_jax.stats.table_row` of its sweep, and
        its paired comparison with the baseline (``difference``, ``ci_low``, ``ci_high``,
        ``p_holm``, ``only_it``, ``only_baseline``; ``None`` on the baseline's row)."""
        outcomes = {i: s.table["converged"] for i, s in enumerate(self.sweeps)}
        if len({len(o) for o in outcomes.values()}) > 1:
            raise ValueError("the points of a grid must hold the same seeds")
        paired = stats.compare_to_baseline(outcomes, self.baseline)
        rows = []
        for i, (point, s) in enumerate(zip(self.points, self.sweeps)):
            hparams = {k: v for k, v in s.hparams.items() if k not in point}
            row = {**point, **hparams, **stats.table_row(s.summary)}
            d = paired.get(i)
            row.update(
                difference=None if d is None else d["difference"],
                ci_low_difference=None if d is None else d["ci95"][0],
                ci_high_difference=None if d is None else d["ci95"][1],
                p_holm=None if d is None else d["p_holm"],
                only_it=None if d is None else d["only_a"],
                only_baseline=None if d is None else d["only_b"],
            )
            rows.append(row)
        return rows

    def markdown(self, columns: Sequence[tuple[str, str]] | None = None) -> str:
        """The comparison table: ``columns`` (``(key, heading)`` of the point labels or
        hyperparameters to show; default: every label), then the seeds converged, the rate
        with its Wilson interval, divergences, the median updates to converge, and the paired
        difference from the baseline with its p-value (McNemar, Holm) and discordant seeds."""
        columns = [(k, k) for k in self.labels] if columns is None else list(columns)
        base = self.label(self.baseline)
        head = [h for _, h in columns] + [
            "converged",
            "rate [95% CI]",
            "diverged",
            "median updates",
            f"vs {base}: difference [95% CI, paired]",
            "p (McNemar, Holm)",
            f"seeds only it / only {base}",
        ]
        align = ["---" if isinstance(self._value(0, k), str) else "---:" for k, _ in columns]
        lines = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join([*align, "---:", "---", "---:", "---:", "---", "---:", "---:"]) + "|",
        ]
        for i, r in enumerate(self.summary()):
            cells = [_cell(self._value(i, k)) for k, _ in columns]
            ms = "-" if r["median_steps"] < 0 else f"{r['median_steps']:.0f}"
            if r["difference"] is None:
                versus = "(baseline) | | "
            else:
                versus = (
                    f"{r['difference']:+.3f} [{r['ci_low_difference']:+.3f}, "
                    f"{r['ci_high_difference']:+.3f}] | {stats.format_p(r['p_holm'])} | "
                    f"{r['only_it']} / {r['only_baseline']}"
                )
            lines.append(
                "| " + " | ".join(cells) + f" | {r['converged']}/{r['seeds']} | "
                f"{r['rate']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {r['diverged']} | "
                f"{ms} | {versus} |"
            )
        return "\n".join(lines)

    def _value(self, i: int, key: str):
        point = self.points[i]
        return point[key] if key in point else self.sweeps[i].hparams.get(key, "-")


def _cell(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def long_curves(curves: Mapping[str, np.ndarray], labels: Mapping | None = None) -> dict:
    """A sweep's curves (``seed`` ``(n,)``, ``update`` ``(E,)``, ``loss``/``accuracy``
    ``(n, E)``) in long form: ``labels`` as constant columns, then ``seed``, ``update``,
    ``loss``, ``accuracy``, one row per seed and evaluation.

    Example:
      >>> import numpy as np
      >>> c = {"seed": np.arange(2), "update": np.array([5, 10]),
      ...      "loss": np.ones((2, 2)), "accuracy": np.zeros((2, 2))}
      >>> long_curves(c, {"optimizer": "adam"})["update"].tolist()
      [5, 10, 5, 10]
    """
    seed = np.asarray(curves["seed"])
    update = np.asarray(curves["update"])
    n, e = seed.size, update.size
    out = {k: np.full(n * e, v, dtype=object) for k, v in (labels or {}).items()}
    out["seed"] = np.repeat(seed, e)
    out["update"] = np.tile(update, n)
    out["loss"] = np.asarray(curves["loss"], np.float64).reshape(-1)
    out["accuracy"] = np.asarray(curves["accuracy"], np.float64).reshape(-1)
    return out


def _find_baseline(points: list[dict], baseline) -> int:
    if baseline is None:
        return 0
    if isinstance(baseline, int) and not isinstance(baseline, bool):
        if not 0 <= baseline < len(points):
            raise ValueError(f"baseline {baseline} is not a point index (0..{len(points) - 1})")
        return baseline
    if not isinstance(baseline, Mapping):
        raise TypeError("baseline must be a point index or a mapping of labels to values")
    match = [
        i for i, p in enumerate(points) if all(_same(p.get(k), v) for k, v in baseline.items())
    ]
    if len(match) != 1:
        shown = ", ".join(f"{k}={v}" for k, v in baseline.items())
        raise ValueError(
            f"--baseline {shown} matches {len(match)} points of the grid; it must match one"
        )
    return match[0]


def _same(a, b) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float | str):
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    return str(a) == str(b)


def check_grid(train, grid=None, *, baseline=None, names: Sequence[str] | None = None) -> list:
    """Checks a grid as :func:`run_grid` would, before anything compiles or is written: every
    structure at every point (names and ranges of the hyperparameters, values distinct in the
    run's dtype), the baseline matching exactly one point, the structures' folder names.

    Args:
      train, grid, baseline, names: as for :func:`run_grid`.

    Returns:
      The points' labels, in the order :func:`run_grid` runs them.

    Raises:
      ValueError, TypeError: one line naming what is wrong.

    Example:
      >>> import rnn_jax as rj, rnn_jax.runs as runs
      >>> train = rj.make_train(rj.TrainConfig(n_train=200, epochs=2, eval_every=4, bits=3))
      >>> [p["learning_rate"] for p in runs.check_grid(train, {"learning_rate": [0.01, 0.1]})]
      [0.01, 0.1]
    """
    return _checked(train, grid, baseline, names)[2]


def _checked(train, grid, baseline, names):
    """``(trains, axes, points, names, baseline index)`` of a checked grid."""
    trains = list(train) if isinstance(train, Sequence) else [train]
    if not trains:
        raise ValueError("run_grid needs at least one training run")
    for t in trains:
        check_train(t)
    axes = grid_points(grid) if grid is not None else [{}]
    for t in trains:  # every structure at every point, checked before anything compiles
        for p in axes:
            t.check_hparams(p)
    for t in trains:  # values distinct in float64 may be one value in the run's dtype
        cast = [tuple((k, float(np.asarray(v, t.dtype))) for k, v in p.items()) for p in axes]
        if len(set(cast)) < len(cast):
            raise ValueError(
                f"grid: two points are the same value in {t.dtype} (the run's dtype); "
                "choose values further apart"
            )
    labels = structure_labels(trains)
    names = _structure_names(labels, names)
    points = [{**label, **p} for label in labels for p in axes]
    return trains, axes, points, names, _find_baseline(points, baseline)


def run_grid(
    train,
    n_seeds: int,
    grid=None,
    *,
    baseline=None,
    names: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    sweep=None,
    chunk_size: int | None = None,
    devices=None,
    microbatch: int | None = None,
    cache=None,
    **sweep_kwargs,
) -> GridResult:
    """Runs every structure at every point of a hyperparameter grid, on the same seeds.

    Each structure compiles once (:class:`rnn_jax.runs.Sweep`; the hyperparameters are
    traced) and runs :func:`rnn_jax.runs.run_sweep` at every point: per-seed results are those
    of running each point alone, and every point is checked before anything compiles.

    Args:
      train: a training run from :func:`rnn_jax.make_train`, or a sequence of them (the
        structures, e.g. one per optimizer or hidden size).
      n_seeds: seeds per point (the same seeds at every point: paired).
      grid: the traced points (see :func:`grid_points`); ``None``: each structure's defaults.
      baseline: the point the others are compared with: an index, or labels that match one
        point (``{"optimizer": "adam"}``, ``{"learning_rate": 0.1}``); default the first.
      names: folder names of the structures (default: their labels, ``optimizer=adam,...``).
      out_dir: where the sweeps are saved: ``out_dir/<structure>/<point>/`` (no structure
        level for one structure, no point level without a grid).
      sweep: a compiled :class:`rnn_jax.runs.Sweep` of ``train`` (one structure only).
      chunk_size, devices, microbatch, cache: as for :func:`rnn_jax.runs.run_sweep`.
      **sweep_kwargs: passed to :func:`rnn_jax.runs.run_sweep` (``base_seed``,
        ``overwrite``, ``progress``, ``processes``, ...).

    Returns:
      A :class:`GridResult`.

    Example:
      >>> import rnn_jax as rj, rnn_jax.runs as runs
      >>> train = rj.make_train(rj.TrainConfig(n_train=200, epochs=2, eval_every=4, bits=3))
      >>> g = runs.run_grid(train, 8, {"learning_rate": [0.01, 0.1]}, progress=False,
      ...                   microbatch=8, baseline={"learning_rate": 0.1})
      >>> g.baseline, g.summary()[0]["seeds"]
      (1, 8)
    """
    trains, axes, points, names, index = _checked(train, grid, baseline, names)
    if sweep is not None and len(trains) > 1:
        raise ValueError("sweep= compiles one structure; give one train with it")
    check_base_seed(sweep_kwargs.get("base_seed", 0))
    checks.check_positive_int("n_seeds", n_seeds)
    if out_dir is not None:
        if not isinstance(out_dir, str | Path):
            raise TypeError(f"out_dir must be a folder's path, got {type(out_dir).__name__}")
        processes = sweep_kwargs.get("processes") or Processes.current()
        if processes.writer:
            out_dir = files.real_folder(out_dir, "out_dir")
    sweeps = []
    for t, name in zip(trains, names):
        compiled = _engine(t, n_seeds, chunk_size, devices, microbatch, sweep, cache)
        for p in axes:
            if sweep_kwargs.get("progress", True):
                print(f"{name or t.optimizer.name}: {point_name(p)}", file=sys.stderr, flush=True)
            out = None
            if out_dir is not None:
                out = Path(out_dir, *([name] if name else []), *([point_name(p)] if p else []))
            sweeps.append(
                run_sweep(t, n_seeds, hparams=p, out_dir=out, sweep=compiled, **sweep_kwargs)
            )
    return GridResult(points, sweeps, index, None if out_dir is None else Path(out_dir))


def _structure_names(labels: list[dict], names) -> list[str]:
    if names is not None:
        names = list(names)
        if len(names) != len(labels):
            raise ValueError(f"names: {len(names)} names for {len(labels)} structures")
        for n in names:
            if (
                not isinstance(n, str)
                or not re.fullmatch(r"[A-Za-z0-9_.=,+-]{1,128}", n)
                or n in (".", "..")
            ):
                raise ValueError(f"names: {n!r} is not a folder name")
        return names
    if len(labels) == 1:
        return [""]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise ValueError(
                f"structures {labels.index(label) + 1} and {i + 1} have the same labels "
                f"{label}: give their tasks different names, or pass names="
            )
    varied = [k for k in labels[0] if len({repr(label[k]) for label in labels}) > 1]
    return [",".join(f"{k}={label[k]}" for k in varied) for label in labels]


def save_grid(result: GridResult, folder: RunFolder, title: str, columns=None) -> list[str]:
    """Commits a grid's tables to its folder (``grid.csv``: one row per point with its
    paired comparison; ``grid.md``: :meth:`GridResult.markdown`; ``per_seed.csv``: the tidy
    table of every seed at every point) and draws its figures (:func:`grid_figures`).
    Returns the names of the figures."""
    if not isinstance(folder, RunFolder):
        raise TypeError(
            f"folder must be an open rnn_jax.runs.RunFolder (the grid's own folder), got "
            f"{type(folder).__name__}"
        )
    rows = result.summary()
    keys = list(dict.fromkeys(k for r in rows for k in r))
    grid_csv = {k: [_csv(r.get(k)) for r in rows] for k in keys}
    identity = result.sweeps[0].identity or {}
    base = f" (base seed {identity['base_seed']})" if "base_seed" in identity else ""
    md = (
        result.markdown(columns)
        + f"\n\nAll points share the same {rows[0]['seeds']} seeds{base}.\n"
    )
    table = result.table()
    folder.commit(
        {
            GRID_TABLE: files.csv_bytes(grid_csv),
            GRID_MARKDOWN: md.encode(),
            GRID_SEEDS: files.csv_bytes(table),
        },
        seeds=int(len(table["seed"])),
    )
    if not folder.writer:
        return []
    return list(grid_figures(result, folder.path, title))


def _csv(v):
    return float("nan") if v is None else v


def grid_figures(result: GridResult, out: Path, title: str) -> dict:
    """``grid.png``: the rate against the one swept hyperparameter (one line per structure,
    95% bands; a linear axis when a value is <= 0 or the values span less than two decades,
    so no point is dropped), else the rates as points with their intervals; ``heatmap.png``
    when one numeric structure field (the hidden size, say) and one hyperparameter vary.

    Returns:
      ``{file name: matplotlib Figure}`` of what was written.
    """
    from rnn_jax._src.runs import plots

    rows = result.summary()
    structure = [k for k in result.labels if not any(k in s.hparams for s in result.sweeps)]
    axes = [k for k in result.labels if k not in structure]
    varied = [k for k in structure if len({repr(r[k]) for r in rows}) > 1]
    setting = [", ".join(str(r[k]) for k in varied) or str(rows[0]["optimizer"]) for r in rows]
    labelled = [{**r, "setting": s} for r, s in zip(rows, setting)]
    band = f"{title}: convergence rate (95% Wilson bands)"
    figures = {}
    if len(axes) == 1:
        figures["grid.png"] = plots.rate_curve_figure(
            labelled, out / "grid.png", x=axes[0], group="setting", title=band
        )
        numeric = [k for k in varied if all(isinstance(r[k], int | float) for r in rows)]
        if len(varied) == 1 and numeric:
            figures["heatmap.png"] = plots.heatmap_figure(
                rows, out / "heatmap.png", x=axes[0], y=varied[0],
                title=f"{title}: convergence rate [95% CI]",
            )  # fmt: skip
    elif not axes and len(varied) == 1 and all(isinstance(r[varied[0]], int | float) for r in rows):
        every = [{**r, "runs": "all"} for r in rows]
        figures["grid.png"] = plots.rate_curve_figure(
            every, out / "grid.png", x=varied[0], group="runs", title=band
        )
    else:
        by_setting = [{**r, "optimizer": s} for r, s in zip(rows, setting)]
        if axes:
            for r, s in zip(by_setting, rows):
                r["optimizer"] += "\n" + ", ".join(f"{k} {s[k]:g}" for k in axes)
        figures["grid.png"] = plots.rates_figure(
            by_setting, out / "grid.png", title=f"{title}: convergence rate", xlabel="setting"
        )
    return figures


def load_grid(path, baseline=None) -> GridResult:
    """Reads a grid back from its folder: every sweep folder below ``path`` (each read and
    validated by :func:`rnn_jax.runs.load_sweep`), labelled by the settings that differ
    between them. The sweeps must share their base seed and seeds.

    Args:
      path: the grid's folder (one written by :func:`run_grid` or a script's grid).
      baseline: as for :func:`run_grid`.

    Returns:
      A :class:`GridResult`.
    """
    from rnn_jax._src.runs.identity import differences

    root = Path(path)
    if not root.is_dir() or root.is_symlink():
        raise RunFolderError(f"{root} is not a folder")
    folders = sorted(
        p.parent
        for p in root.rglob(CONFIG)
        if p.parent != root and not p.parent.is_symlink() and _is_sweep(p)
    )
    if not folders:
        raise RunFolderError(f"{root} holds no sweep folder")
    sweeps = [store.load_sweep(f) for f in folders]
    first = sweeps[0].identity
    keys = set()
    for s in sweeps[1:]:
        keys.update(d for d in differences(first, s.identity) if not d.startswith("environment."))
    if any(k in ("base_seed", "microbatch") or k.startswith("outcomes.") for k in keys):
        raise ValueError(f"{root}: its sweeps do not share their seeds or criterion")
    points = []
    ordered = sorted(keys, key=lambda k: (k.startswith("hparams."), k))
    # a task object's description (name, fingerprint, import, ...) is one label: its name,
    # or, where only its contents differ, its name and the start of what tells it apart
    readable = [  # a builder's arguments (sequence_task's hidden, init, ...): labels as they are
        k for k in ordered if k.startswith("train.task.identity.") and not k.endswith("fingerprint")
    ]
    task_contents = (
        any(k.startswith("train.task.") for k in keys) and "task" not in keys and not readable
    )
    for s in sweeps:
        point = {"optimizer": s.identity.get("optimizer")}
        if task_contents:
            described = s.identity["train"]["task"]
            tag = next((str(described[k]) for k in ("identity", "fingerprint", "source_sha256")
                        if k in described), "")  # fmt: skip
            point["task"] = f"{s.identity['task']} ({tag[:8]})"
        for key in ordered:
            if key.startswith("train.task.") and key not in readable:
                continue
            value = s.identity
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if key.startswith("hparams."):
                point[key.split(".", 1)[1]] = value
            elif not key.startswith(("train.hparams", "train.optimizer")) and key != "optimizer":
                point[key.split(".")[-1]] = value if not isinstance(value, dict) else str(value)
        points.append(point)
    return GridResult(points, sweeps, _find_baseline(points, baseline), root)


def _is_sweep(config_path: Path) -> bool:
    try:
        identity = files.read_json(config_path, max_bytes=1 << 20)
    except files.FileError:
        return False
    return isinstance(identity, dict) and identity.get("kind") == "sweep"
