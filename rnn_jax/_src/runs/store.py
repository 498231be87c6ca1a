"""How a sweep is stored: file names, the per-seed schema, validation and loading, in one place.

A sweep folder (:class:`rnn_jax.runs.RunFolder`) holds

* ``per_seed.csv``: one row per seed, ``seed``, one column per hyperparameter (its value),
  then :data:`TABLE_FIELDS` (the per-seed numbers of :class:`rnn_jax.Outcome`);
* ``curves.npz``: ``seed`` ``(n,)``, ``update`` ``(n_evals,)``, ``loss`` and ``accuracy``
  ``(n, n_evals)``;
* ``metrics.json``: the summary and timings, written when the sweep ends.

Readers validate exactly as a resume does: checksums, size caps taken from the identity before
anything is read, the table's columns, types, seed order, hyperparameter values and the ranges
and consistency of every outcome (from the facts the identity records: the criterion, the
number of updates, the evaluation interval), and the curves' shapes. The summary a reader gets
is always recomputed from the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rnn_jax._src import stats
from rnn_jax._src.runs import files
from rnn_jax._src.runs.files import FileError
from rnn_jax._src.runs.folder import CONFIG, RunFolder
from rnn_jax._src.runs.identity import differences, sweep_identity
from rnn_jax._src.train import Outcome

TABLE = "per_seed.csv"
CURVES = "curves.npz"
METRICS = "metrics.json"

#: The per-seed curves of an :class:`rnn_jax.Outcome` (``(n_evals,)`` each).
CURVE_FIELDS = ("loss_curve", "accuracy_curve")
#: The per-seed numbers of an :class:`rnn_jax.Outcome`: the outcome columns of a table.
TABLE_FIELDS = tuple(f for f in Outcome._fields if f not in (*CURVE_FIELDS, "params"))
#: Table columns that hold integers (the others hold floats).
INTEGER_COLUMNS = (
    "seed",
    "converged",
    "first_converged_update",
    "stayed_converged",
    "bad_accuracy",
    "diverged",
    "diverged_step",
)
#: Timings a sweep's summary carries besides its statistics.
TIMING = ("train_seconds", "first_chunk_seconds", "seeds_per_second")


class SweepResult(NamedTuple):
    """What :func:`rnn_jax.runs.run_sweep` and :func:`load_sweep` return.

    Attributes:
      table: per-seed columns: ``seed``, one column per hyperparameter (its value), then the
        :class:`rnn_jax.Outcome` numbers (``converged``, ``first_converged_update``, ...).
      curves: ``seed`` ``(n,)``, ``update`` ``(n_evals,)`` (the update count of each point),
        ``loss`` and ``accuracy`` ``(n, n_evals)``.
      summary: :func:`rnn_jax.stats.summarize` of the table, plus timings.
      hparams: every hyperparameter's value in this sweep.
      out_dir: the folder it was saved in, or ``None``.
      identity: the sweep's identity (:func:`rnn_jax.runs.identity.sweep_identity`) when
        saved or loaded, else ``None``.
      trained: how many seeds this call trained (0: every seed came from the folder).
    """

    table: dict[str, np.ndarray]
    curves: dict[str, np.ndarray]
    summary: dict
    hparams: dict[str, float]
    out_dir: Path | None = None
    identity: dict | None = None
    trained: int = 0


def table_columns(hparams: Mapping) -> list[str]:
    """The columns of a sweep's table, in order."""
    return ["seed", *sorted(hparams), *TABLE_FIELDS]


def table_from_outcomes(
    seeds: np.ndarray, hparams: Mapping[str, float], outcomes: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The table rows of a chunk: ``seeds`` ``(n,)``, every hyperparameter's value, and the
    :data:`TABLE_FIELDS` of ``outcomes`` (what :class:`rnn_jax.runs.Sweep` returns) as int64
    (flags and counts) or float64."""
    table = {"seed": np.asarray(seeds, np.int64)}
    for k in sorted(hparams):
        table[k] = np.full(len(seeds), float(hparams[k]))
    for c in TABLE_FIELDS:
        v = np.asarray(outcomes[c])
        table[c] = v.astype(np.int64 if v.dtype.kind in "bi" else np.float64)
    return table


def outcome_facts(train) -> dict:
    """What a reader needs to validate a table without the training run: the criterion, the
    number of updates and the evaluation interval (recorded in the identity)."""
    return {
        "criterion": float(train.task.criterion),
        "updates": int(train.steps),
        "eval_every": int(train.config.eval_every),
    }


def eval_updates(facts: Mapping) -> np.ndarray:
    """The update count after each evaluation, ``(n_evals,)``."""
    every = int(facts["eval_every"])
    return every * np.arange(1, int(facts["updates"]) // every + 1)


def identity_of(train, base_seed: int, microbatch: int, hparams: Mapping) -> dict:
    """A sweep's identity (:func:`rnn_jax.runs.identity.sweep_identity`) with the facts its
    readers validate against (:func:`outcome_facts`)."""
    return {
        **sweep_identity(train, base_seed, microbatch, hparams),
        "outcomes": outcome_facts(train),
    }


def curves_from(seeds, loss, accuracy, facts: Mapping) -> dict[str, np.ndarray]:
    """The ``curves.npz`` arrays of the seeds ``seeds`` (``loss`` and ``accuracy`` rows)."""
    updates = eval_updates(facts)
    return {
        "seed": np.asarray(seeds, np.int64),
        "update": updates.astype(np.int64),
        "loss": np.asarray(loss, np.float64).reshape(-1, updates.size),
        "accuracy": np.asarray(accuracy, np.float64).reshape(-1, updates.size),
    }


def sweep_files(table: Mapping, curves: Mapping) -> dict[str, bytes]:
    """The bytes of a sweep's table and curves, as committed to its folder."""
    return {TABLE: files.csv_bytes(table), CURVES: files.npz_bytes(**curves)}


def _table_bytes_cap(n: int, n_cols: int) -> int:
    return 4096 + (n + 1) * 40 * n_cols


def _curves_bytes_cap(n: int, n_evals: int) -> int:
    return (1 << 16) + 16 * (2 * n + n_evals + 2 * n * n_evals)


def _facts(identity, name) -> tuple[dict, dict]:
    """The hyperparameters and outcome facts a sweep's identity records, checked."""
    hp = identity.get("hparams") if isinstance(identity, dict) else None
    facts = identity.get("outcomes") if isinstance(identity, dict) else None
    ok = (
        isinstance(hp, dict)
        and all(isinstance(v, float | int) and np.isfinite(v) for v in hp.values())
        and isinstance(facts, dict)
        and isinstance(facts.get("criterion"), float | int)
        and all(isinstance(facts.get(k), int) and facts[k] >= 1 for k in ("updates", "eval_every"))
        and facts["updates"] % facts["eval_every"] == 0
    )
    if not ok:
        raise FileError(f"{name} is not a sweep's identity")
    return hp, facts


def validate_table(t: Mapping[str, np.ndarray], identity: Mapping, n: int, name) -> None:
    """Refuses a per-seed table that is not what the sweep of ``identity`` writes: columns,
    types, seed order, hyperparameter values and the ranges and consistency of every outcome.

    Args:
      t: the table's columns.
      identity: the sweep's identity (:func:`identity_of`).
      n: the seeds its folder's manifest says are saved.
      name: how errors name the table.

    Raises:
      FileError: one line naming the column, the rule and the row.
    """
    hparams, facts = _facts(identity, name)
    columns = table_columns(hparams)
    if list(t) != columns:
        raise FileError(f"{name} does not have the columns this sweep writes")
    if len(t["seed"]) != n:
        raise FileError(f"{name} holds {len(t['seed'])} seeds, its manifest {n}")
    for c in columns:
        want = "i" if c in INTEGER_COLUMNS else "f"
        if n and t[c].dtype.kind != want and not (want == "f" and t[c].dtype.kind == "i"):
            raise FileError(
                f"{name}: column {c!r} does not hold {'integers' if want == 'i' else 'numbers'}"
            )
    if not np.array_equal(t["seed"], np.arange(n)):
        raise FileError(f"{name} does not hold seeds 0..{n - 1} in order")
    for k, v in hparams.items():
        if not np.all(t[k] == np.float64(v)):
            raise FileError(f"{name}: column {k!r} does not hold this sweep's value {v:g}")
    conv, div, bad, stayed = t["converged"], t["diverged"], t["bad_accuracy"], t["stayed_converged"]
    steps, dstep, acc, loss = (
        t["first_converged_update"],
        t["diverged_step"],
        t["accuracy"],
        t["final_loss"],
    )
    updates = facts["updates"]
    problems = [
        ("converged", ~np.isin(conv, (0, 1)), "0 or 1"),
        ("diverged", ~np.isin(div, (0, 1)), "0 or 1"),
        ("bad_accuracy", ~np.isin(bad, (0, 1)), "0 or 1"),
        ("stayed_converged", ~np.isin(stayed, (0, 1)), "0 or 1"),
        ("converged", (conv == 1) & (div == 1), "0 where diverged is 1"),
        ("accuracy", (bad == 0) & ~((acc >= 0) & (acc <= 1)), "in [0, 1] unless bad_accuracy"),
        (
            "converged",
            (conv == 1) != ((acc >= facts["criterion"]) & (div == 0) & (bad == 0)),
            "consistent with accuracy",
        ),
        ("stayed_converged", (stayed == 1) & (steps < 0), "0 where never converged"),
        (
            "first_converged_update",
            ~np.isin(steps, [-1, *eval_updates(facts)]),
            "-1 or an evaluated update",
        ),
        ("first_converged_update", (conv == 1) & (steps < 0), ">= 0 where converged"),
        ("diverged_step", ~((dstep >= -1) & (dstep < updates)), f"in [-1, {updates})"),
        ("diverged_step", (div == 1) != (dstep >= 0), ">= 0 exactly where diverged"),
        ("final_loss", (div == 0) & ~np.isfinite(loss), "finite where not diverged"),
    ]
    for column, bad, rule in problems:
        if np.any(bad):
            row = int(np.argmax(bad))
            raise FileError(f"{name}: {column!r} must be {rule} (row {row + 1})")


def validate_curves(
    curves: Mapping[str, np.ndarray], identity: Mapping, n: int, name, bad_accuracy=None
) -> None:
    """Refuses curves that do not cover seeds ``0..n-1`` at the evaluated updates of the sweep
    of ``identity``, or that hold an accuracy outside ``[0, 1]`` in a row whose table entry
    (``bad_accuracy``, ``(n,)``; default all 0) does not flag it."""
    _, facts = _facts(identity, name)
    if not np.array_equal(curves["seed"], np.arange(n)) or not np.array_equal(
        curves["update"], eval_updates(facts)
    ):
        raise FileError(f"{name} does not cover the seeds and updates of {TABLE}")
    acc = curves["accuracy"]
    flagged = np.zeros(n, bool) if bad_accuracy is None else np.asarray(bad_accuracy) == 1
    outside = ~((acc >= 0) & (acc <= 1))
    if np.any(outside & ~flagged[:, None]):
        row = int(np.argmax(np.any(outside, axis=1) & ~flagged))
        raise FileError(f"{name}: accuracies must be in [0, 1] unless bad_accuracy (row {row + 1})")
    if np.any(flagged & ~np.any(outside, axis=1)):
        row = int(np.argmax(flagged & ~np.any(outside, axis=1)))
        raise FileError(f"{name}: bad_accuracy without an accuracy outside [0, 1] (row {row + 1})")


def read_sweep(folder: RunFolder) -> tuple[dict, dict]:
    """The table and curves a sweep folder committed, read with size caps from its identity
    and validated (:func:`validate_table`, :func:`validate_curves`)."""
    path, identity, n = folder.path, folder.identity, folder.seeds
    hparams, facts = _facts(identity, str(path / CONFIG))
    n_evals = int(facts["updates"]) // int(facts["eval_every"])
    n_cols = len(table_columns(hparams))
    table = files.parse_csv(folder.read(TABLE, _table_bytes_cap(n, n_cols)), str(path / TABLE))
    expect = {"seed": (n,), "update": (n_evals,), "loss": (n, n_evals), "accuracy": (n, n_evals)}
    raw = folder.read(CURVES, _curves_bytes_cap(n, n_evals))
    curves = files.parse_npz(raw, str(path / CURVES), expect)
    validate_table(table, identity, n, str(path / TABLE))
    validate_curves(curves, identity, n, str(path / CURVES), table["bad_accuracy"])
    return table, curves


def first_seeds(table: Mapping, curves: Mapping, n: int) -> tuple[dict, dict]:
    """The rows of seeds ``0 .. n-1`` of a table and its curves (a prefix: seeds are in
    order)."""
    table = {k: np.asarray(v)[:n] for k, v in table.items()}
    curves = {k: (v if k == "update" else np.asarray(v)[:n]) for k, v in curves.items()}
    return table, curves


def summary_of(table: Mapping, metrics: Mapping | None) -> dict:
    """The summary of a table (always recomputed from it) with the timings ``metrics``
    recorded, when it recorded them for this many seeds."""
    summary = stats.summarize(table)
    recorded = (metrics or {}).get("summary", {})
    if isinstance(recorded, dict) and recorded.get("seeds") == summary["seeds"]:
        summary.update({k: recorded.get(k) for k in (*TIMING, "devices", "chunk_size")})
    return summary


def load_sweep(path, train=None) -> SweepResult:
    """Reads a sweep folder back, verified as a resume verifies it.

    Checks the checksums its writer recorded, caps every file's size from its identity, and
    validates the table and curves against the facts the identity records. The summary is
    recomputed from the table.

    Args:
      path: the folder (or an open :class:`rnn_jax.runs.RunFolder`).
      train: optionally, the training run the folder should hold: refused unless the
        folder's settings (its identity less the environment) are this run's.

    Returns:
      A :class:`SweepResult`.

    Raises:
      ValueError: one line naming the file and what is wrong; nothing of a file's contents
        is echoed.

    Example:
      >>> import tempfile, rnn_jax as rj, rnn_jax.runs as runs
      >>> train = rj.make_train(rj.TrainConfig(n_train=200, epochs=2, eval_every=4, bits=3))
      >>> with tempfile.TemporaryDirectory() as out:
      ...     _ = runs.run_sweep(train, 8, out_dir=out, progress=False, microbatch=8)
      ...     runs.load_sweep(out, train).summary["seeds"]
      8
    """
    if not isinstance(path, RunFolder):
        if path is None or not isinstance(path, str | Path):
            raise TypeError(f"path must be a folder's path, got {type(path).__name__}")
        folder = RunFolder.existing(path)
        try:
            return load_sweep(folder, train)
        finally:
            folder.close()
    folder = path
    identity = folder.identity
    if not isinstance(identity, dict) or identity.get("kind") != "sweep":
        raise FileError(f"{folder.path / CONFIG} is not a sweep's identity")
    if train is not None:
        want = identity_of(
            train, identity.get("base_seed"), identity.get("microbatch"), identity["hparams"]
        )
        diff = [d for d in differences(identity, want) if not d.startswith("environment.")]
        if diff:
            raise ValueError(
                f"{folder.path} holds a sweep of other settings than the train given "
                f"(differs in {', '.join(diff[:8])})"
            )
    table, curves = read_sweep(folder)
    metrics = folder.saved_json(METRICS, 1 << 20) if METRICS in folder.manifest["files"] else None
    summary = summary_of(table, metrics)
    hparams = {k: float(v) for k, v in identity["hparams"].items()}
    return SweepResult(table, curves, summary, hparams, folder.path, identity)
