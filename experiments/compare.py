"""Compare sweep folders: the first is the baseline, each other one is compared with it.

    python experiments/compare.py results/study/sweeps/rmsprop_nesterov \
        results/study/sweeps/adam results/study/sweeps/sgd

When two sweeps hold the same base seed, seed *i* had the same data and initial network in
both (``rnn_jax`` derives both from the seed's key), so their outcomes are **paired**: the
difference of rates gets Newcombe's paired interval (method 10) and an exact McNemar p-value,
on the seeds both hold. Otherwise the comparison is unpaired (Newcombe's hybrid score interval
for independent samples, no p-value) and a note says so. With several folders compared with one
baseline, the p-values are Holm-adjusted.

Every folder is read verified (checksums, a folder still being written is refused); nothing is
written unless ``--out FILE`` asks for the markdown table.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tyro

from rnn_jax import runs, stats
from rnn_jax.runs import cli, files


@dataclasses.dataclass(frozen=True)
class Args:
    """Compare sweep folders with the first one (paired when they share their seeds)."""

    folders: tyro.conf.Positional[tuple[str, ...]]
    """two or more sweep folders (each written by convergence_sweep.py, study.py or
    rnn_jax.run_sweep); the first is the baseline."""
    out: str | None = None
    """write the markdown table to this file too."""


#: Training settings that decide the task and its convergence criterion (data and test set).
TASK_FIELDS = ("n_train", "bits", "length", "n_test")


def _task(identity: dict) -> tuple[str, tuple]:
    train = identity.get("train", {}) if isinstance(identity, dict) else {}
    fields = tuple((k, train.get(k)) for k in TASK_FIELDS if k in train)
    return str(identity.get("task", "?")), fields


def compare(folders: list[Path]) -> tuple[str, list[dict]]:
    loaded = []
    for path in folders:
        result = runs.load_sweep(path)
        loaded.append((path, result, result.identity.get("base_seed"),
                       result.identity.get("optimizer", "?")))  # fmt: skip
    (b_path, b_res, b_seed, b_opt), others = loaded[0], loaded[1:]
    b_task = _task(b_res.identity)
    rows, notes, p_index = [], [], []
    for path, res, seed, opt in others:
        task = _task(res.identity)
        if task != b_task:
            raise ValueError(
                f"{path} is a sweep of {task[0]} {dict(task[1])}, the baseline {b_path} of "
                f"{b_task[0]} {dict(b_task[1])}: rates of different tasks or criteria are not "
                "compared"
            )
        n = min(len(res.table["seed"]), len(b_res.table["seed"]))
        a_conv = np.asarray(res.table["converged"], bool)
        b_conv = np.asarray(b_res.table["converged"], bool)
        row = {"folder": str(path), "optimizer": opt, "n": n}
        if seed is not None and seed == b_seed:
            d = stats.paired_difference(a_conv[:n], b_conv[:n])
            row.update(paired=True, **d)
            p_index.append(len(rows))
            if n < max(a_conv.size, b_conv.size):
                notes.append(f"{path}: compared on the first {n} seeds, which both folders hold")
        else:
            d = stats.rate_difference(
                int(a_conv.sum()), a_conv.size, int(b_conv.sum()), b_conv.size
            )
            row.update(paired=False, n=a_conv.size, p_value=None, only_a=None, only_b=None, **d)
            notes.append(
                f"{path}: base seed {seed} differs from the baseline's {b_seed}: the seeds are "
                "not shared, so the comparison is unpaired (independent samples, no p-value)"
            )
        row["rate"], row["rate_baseline"] = float(a_conv[:n].mean()), float(b_conv[:n].mean())
        rows.append(row)
    adjusted = stats.holm([rows[i]["p_value"] for i in p_index]) if p_index else []
    for i, p in zip(p_index, adjusted):
        rows[i]["p_holm"] = p
    head = (
        f"Baseline: {b_path} ({b_opt}, base seed {b_seed}, "
        f"{int(np.sum(b_res.table['converged']))}/{len(b_res.table['seed'])} converged).\n\n"
        "| folder | optimizer | seeds | rate | baseline rate | difference [95% CI] | design | "
        "p (McNemar, Holm) | only it / only baseline |\n"
        "|---|---|---:|---:|---:|---|---|---:|---:|"
    )
    lines = [head]
    for r in rows:
        lo, hi = r["ci95"]
        p = "-" if r.get("p_holm") is None else stats.format_p(r["p_holm"])
        disc = f"{r['only_a']} / {r['only_b']}" if r["paired"] else "-"
        lines.append(
            f"| {r['folder']} | {r['optimizer']} | {r['n']} | {r['rate']:.3f} | "
            f"{r['rate_baseline']:.3f} | {r['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] | "
            f"{'paired' if r['paired'] else 'unpaired'} | {p} | {disc} |"
        )
    text = "\n".join(lines) + "".join(f"\n\nNote: {n}" for n in notes)
    return text, rows


def main(argv=None, context=None) -> list[dict]:
    args, context = cli.start(Args, argv, __doc__, context)
    if len(args.folders) < 2:
        raise ValueError("give at least two sweep folders: the baseline, then the others")
    text, rows = compare([Path(f) for f in args.folders])
    if args.out is not None:
        out = Path(args.out)
        if out.is_dir():
            raise ValueError(f"--out {out} is a folder; give a file name for the table")
        files.atomic_write_bytes(out, (text + "\n").encode())
    print(text)
    return rows


if __name__ == "__main__":
    cli.script(main)
