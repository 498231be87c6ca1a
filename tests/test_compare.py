"""Comparing saved sweeps: what differs, whether seeds pair, the difference and its interval."""

import numpy as np
import pytest

from rnn_jax import runs, stats
from rnn_jax._src.runs.compare import compare_sweeps


def _sweep(converged, base_seed=0, **identity):
    conv = np.asarray(converged)
    table = {"seed": np.arange(conv.size), "converged": conv, "diverged": 0 * conv}
    ident = {"kind": "sweep", "base_seed": base_seed, "optimizer": "sgd", "task": "t",
             "hparams": {"learning_rate": 0.1}, "train": {"bits": 6}, "environment": {"x": 1},
             **identity}  # fmt: skip
    return runs.SweepResult(table, {}, {}, {}, None, ident)


A = [1, 1, 0, 0, 1, 0, 1, 1, 0, 0]
B = [1, 0, 0, 1, 1, 0, 0, 0, 0, 1]


def test_same_base_seed_pairs_and_counts_discordant_seeds():
    result = compare_sweeps(
        [_sweep(A), _sweep(B, optimizer="adam", environment={"x": 2})], ["a", "b"]
    )
    (row,) = result.rows
    assert row["paired"] and row["n"] == 10
    assert (row["only_it"], row["only_baseline"]) == (2, 3)  # B and not A; A and not B
    assert row["difference"] == pytest.approx(-0.1)
    assert row["differs"] == ["optimizer: 'sgd' -> 'adam'"]  # the environment is not a setting
    assert row["p_holm"] == row["p_value"] == stats.mcnemar_exact(2, 3)
    assert "| b | optimizer: 'sgd' -> 'adam' | 10 |" in result.markdown


def test_other_base_seeds_are_unpaired_and_fewer_seeds_are_noted():
    result = compare_sweeps([_sweep(A), _sweep(B, base_seed=7), _sweep(B[:6])], ["a", "b", "c"])
    unpaired, short = result.rows
    assert not unpaired["paired"] and unpaired["p_value"] is None and unpaired["n"] == 10
    assert short["paired"] and short["n"] == 6
    assert any("base seed 7 differs" in n for n in result.notes)
    assert any("first 6 seeds" in n for n in result.notes)


def test_another_task_or_criterion_is_refused_unless_asked():
    other = _sweep(B, train={"bits": 7})
    with pytest.raises(ValueError, match=r"differs in train.bits: 6 -> 7\); rates of different"):
        compare_sweeps([_sweep(A), other], ["a", "b"])
    (row,) = compare_sweeps([_sweep(A), other], ["a", "b"], allow_different=True).rows
    assert row["differs"] == ["train.bits: 6 -> 7"]
    with pytest.raises(ValueError, match="at least two"):
        compare_sweeps([_sweep(A)], ["a"])
