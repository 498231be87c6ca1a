"""Comparing saved sweeps: what differs between them, whether their seeds pair, and by how much
their convergence rates differ.

Two sweeps with the same base seed gave seed *i* the same key, hence the same data (when their
task's data settings agree) and, for the same architecture, the same initial network: their
outcomes are **paired** and compared seed by seed (Newcombe's paired interval, exact McNemar
test, Holm over several comparisons), on the seeds both hold. Other base seeds: unpaired
(Newcombe's interval for independent samples, no p-value). Sweeps of different tasks or
convergence criteria measure different things: refused, unless the caller says to compare
them anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from rnn_jax._src import stats
from rnn_jax._src.runs.identity import differences
from rnn_jax._src.runs.store import SweepResult

#: Identity entries that define what a convergence rate measures (the task, its data, its
#: criterion): sweeps that differ in one are not compared unless asked.
MEANING = (
    "task",
    "outcomes.criterion",
    "train.task",
    "train.task_args",
    "train.n_train",
    "train.bits",
    "train.length",
    "train.n_test",
    "train.dtype",
)


class Comparison(NamedTuple):
    """What :func:`compare_sweeps` returns.

    Attributes:
      rows: one per compared sweep: its ``name``, ``differs`` (the settings that differ from
        the baseline's, each ``"key: baseline's -> its"``), ``paired``, ``n`` (seeds
        compared), ``rate``, ``rate_baseline``, ``difference``, ``ci95``, ``p_value``,
        ``p_holm`` (paired only), ``only_it``, ``only_baseline``.
      notes: sentences about the design of each comparison (unpaired, fewer seeds).
      markdown: the table with its notes.
    """

    rows: list[dict]
    notes: list[str]
    markdown: str


def _value(identity, key: str):
    value = identity
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _changes(base: dict, other: dict) -> list[str]:
    keys = [d for d in differences(base, other) if not d.startswith("environment.")]
    return [f"{k}: {_value(base, k)!r} -> {_value(other, k)!r}" for k in keys]


def compare_sweeps(
    sweeps: Sequence[SweepResult], names: Sequence[str], *, allow_different: bool = False
) -> Comparison:
    """Each sweep after the first compared with the first (the baseline).

    Args:
      sweeps: loaded sweeps (:func:`rnn_jax.runs.load_sweep`), each with its identity.
      names: how the table names them (their folders).
      allow_different: compare sweeps whose task or criterion differ from the baseline's
        (otherwise a one-line ``ValueError`` naming what differs).

    Returns:
      A :class:`Comparison`.
    """
    if len(sweeps) < 2:
        raise ValueError("give at least two sweeps: the baseline, then the others")
    base, base_name = sweeps[0], names[0]
    b_conv = np.asarray(base.table["converged"], bool)
    rows, notes, paired_rows = [], [], []
    for sweep, name in zip(sweeps[1:], names[1:]):
        changes = _changes(base.identity, sweep.identity)
        meaning = [c for c in changes if c.split(":")[0] in MEANING]
        if meaning and not allow_different:
            raise ValueError(
                f"{name} measures another thing than {base_name} (differs in "
                f"{'; '.join(meaning)}); rates of different tasks or criteria are not compared "
                "(--allow-different compares them anyway)"
            )
        a_conv = np.asarray(sweep.table["converged"], bool)
        row = {"name": name, "differs": changes}
        same_seeds = sweep.identity.get("base_seed") == base.identity.get("base_seed")
        if same_seeds:
            n = min(a_conv.size, b_conv.size)
            d = stats.paired_difference(a_conv[:n], b_conv[:n])
            row.update(paired=True, n=n, difference=d["difference"], ci95=d["ci95"])
            row.update(p_value=d["p_value"], only_it=d["only_a"], only_baseline=d["only_b"])
            row.update(rate=float(a_conv[:n].mean()), rate_baseline=float(b_conv[:n].mean()))
            paired_rows.append(row)
            if n < max(a_conv.size, b_conv.size):
                notes.append(f"{name}: compared on the first {n} seeds, which both hold")
        else:
            d = stats.rate_difference(
                int(a_conv.sum()), a_conv.size, int(b_conv.sum()), b_conv.size
            )
            row.update(paired=False, n=a_conv.size, difference=d["difference"], ci95=d["ci95"],
                       p_value=None, only_it=None, only_baseline=None)  # fmt: skip
            row.update(rate=float(a_conv.mean()), rate_baseline=float(b_conv.mean()))
            notes.append(
                f"{name}: base seed {sweep.identity.get('base_seed')} differs from the "
                f"baseline's {base.identity.get('base_seed')}: the seeds are not shared, so the "
                "comparison is unpaired (independent samples, no p-value)"
            )
        if meaning:
            notes.append(
                f"{name}: compared although it measures another thing (" + "; ".join(meaning) + ")"
            )
        rows.append(row)
    adjusted = stats.holm([r["p_value"] for r in paired_rows]) if paired_rows else []
    for r in rows:
        r["p_holm"] = None
    for r, p in zip(paired_rows, adjusted):
        r["p_holm"] = p
    return Comparison(rows, notes, _markdown(base, base_name, rows, notes))


def _markdown(base: SweepResult, base_name: str, rows: list[dict], notes: list[str]) -> str:
    conv = np.asarray(base.table["converged"])
    lines = [
        f"Baseline: {base_name} ({base.identity.get('optimizer', '?')}, base seed "
        f"{base.identity.get('base_seed')}, {int(conv.sum())}/{conv.size} converged).",
        "",
        "| folder | differs from the baseline in | seeds | rate | baseline rate | "
        "difference [95% CI] | design | p (McNemar, Holm) | only it / only baseline |",
        "|---|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for r in rows:
        lo, hi = r["ci95"]
        differs = "; ".join(r["differs"]) or "nothing"
        p = "-" if r["p_holm"] is None else stats.format_p(r["p_holm"])
        disc = f"{r['only_it']} / {r['only_baseline']}" if r["paired"] else "-"
        lines.append(
            f"| {r['name']} | {differs} | {r['n']} | {r['rate']:.3f} | {r['rate_baseline']:.3f} | "
            f"{r['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] | "
            f"{'paired' if r['paired'] else 'unpaired'} | {p} | {disc} |"
        )
    return "\n".join(lines) + "".join(f"\n\nNote: {n}" for n in notes)
