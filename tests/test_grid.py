"""Grids as results: every structure at every point on the same seeds, tables, comparisons with
a chosen baseline, long-form curves, figures that keep every point, reading a grid back."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnn_jax as rj
from rnn_jax import runs
from rnn_jax._src.runs.grid import grid_figures
from tests.plots_helpers import assert_drawn, assert_visible, drawn
from tests.sweep_config import TINY


@pytest.fixture(scope="module")
def momentum_grid(tmp_path_factory):
    """Momentum 0 and 0.9 (a 0 that a log axis would drop) at two hidden sizes."""
    trains = [
        rj.make_train(dataclasses.replace(TINY, optimizer="momentum", hidden=h, dtype="float32"))
        for h in (2, 3)
    ]
    out = tmp_path_factory.mktemp("grid")
    grid = {"momentum": [0.0, 0.9]}
    result = runs.run_grid(trains, 8, grid, out_dir=out, progress=False, microbatch=4,
                           baseline={"hidden": 3, "momentum": 0.9})  # fmt: skip
    return result, out


def test_points_labels_and_folders(momentum_grid):
    result, out = momentum_grid
    assert result.points == [
        {"optimizer": "momentum", "hidden": 2, "momentum": 0.0},
        {"optimizer": "momentum", "hidden": 2, "momentum": 0.9},
        {"optimizer": "momentum", "hidden": 3, "momentum": 0.0},
        {"optimizer": "momentum", "hidden": 3, "momentum": 0.9},
    ]
    assert result.baseline == 3
    assert (out / "hidden=2" / "momentum=0" / "per_seed.csv").is_file()
    assert (out / "hidden=3" / "momentum=0.9" / "curves.npz").is_file()


def test_tidy_table_and_long_curves_cover_every_seed_at_every_point(momentum_grid):
    result, _ = momentum_grid
    table = result.table()
    assert list(table)[:4] == ["optimizer", "hidden", "momentum", "seed"]
    assert len(table["seed"]) == 32 and sorted(set(table["momentum"])) == [0.0, 0.9]
    for i, s in enumerate(result.sweeps):
        rows = slice(8 * i, 8 * (i + 1))
        np.testing.assert_array_equal(table["final_loss"][rows], s.table["final_loss"])
    curves = result.curves()
    n_evals = result.sweeps[0].curves["update"].size
    assert len(curves["loss"]) == 32 * n_evals
    first = result.sweeps[0].curves
    np.testing.assert_array_equal(curves["loss"][:n_evals], first["loss"][0])
    np.testing.assert_array_equal(curves["update"][:n_evals], first["update"])


def test_each_point_is_compared_with_the_baseline_seed_by_seed(momentum_grid):
    result, _ = momentum_grid
    rows = result.summary()
    base = result.sweeps[3].table["converged"] == 1
    for i, row in enumerate(rows):
        if i == 3:
            assert row["difference"] is None and row["p_holm"] is None
            continue
        it = result.sweeps[i].table["converged"] == 1
        assert (row["only_it"], row["only_baseline"]) == (int((it & ~base).sum()),
                                                          int((~it & base).sum()))  # fmt: skip
        assert row["difference"] == (row["only_it"] - row["only_baseline"]) / 8
        assert row["p_holm"] >= row["ci_low_difference"] * 0  # present, a number
    md = result.markdown()
    assert "vs momentum, 3, momentum=0.9: difference [95% CI, paired]" in md
    assert md.count("(baseline)") == 1 and len(md.splitlines()) == 6


def test_the_grid_figure_keeps_a_momentum_of_zero(momentum_grid, tmp_path):
    result, _ = momentum_grid
    figures = grid_figures(result, tmp_path, "test grid")
    assert set(figures) == {"grid.png", "heatmap.png"}
    ax = figures["grid.png"].axes[0]
    points = [(p["momentum"], r["rate"]) for p, r in zip(result.points, result.summary())]
    assert_drawn(drawn(ax, collections=False), points)
    assert_visible(figures["grid.png"], ax, points)
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_reading_a_grid_back_gives_the_same_points(momentum_grid):
    result, out = momentum_grid
    loaded = runs.load_grid(out, baseline={"hidden": 3, "momentum": 0.9})
    assert [(p["hidden"], p["momentum"]) for p in loaded.points] == [
        (p["hidden"], p["momentum"]) for p in result.points
    ]
    assert loaded.markdown() == result.markdown()


@pytest.mark.parametrize("grid,match", [
    ({"momentum": []}, "non-empty list"),
    ({"../x": [0.1]}, "is not a hyperparameter name"),
    ([{"momentum": 0.1}, {"momentum": 0.1}], "appears more than once"),
    ({"momentum": ["a"]}, "must be a number"),
])  # fmt: skip
def test_bad_grids_are_refused_before_anything_compiles(grid, match):
    with pytest.raises(ValueError, match=match):
        runs.grid_points(grid)


def test_a_baseline_must_match_one_point():
    train = rj.make_train(TINY)
    with pytest.raises(ValueError, match="matches 0 points"):
        runs.run_grid(train, 4, {"learning_rate": [0.1]}, baseline={"learning_rate": 7})


def test_values_that_are_one_value_in_float32_are_refused():
    train = rj.make_train(dataclasses.replace(TINY, dtype="float32"))
    with pytest.raises(ValueError, match="two points are the same value in float32"):
        runs.run_grid(train, 4, {"learning_rate": [0.1, 0.1 + 1e-10]}, progress=False)


def _recall(key):
    bits = jax.random.bernoulli(key, 0.5, (32, 5, 1)).astype(jnp.float32)
    return bits, jnp.roll(bits[..., 0], 1, axis=1)


def test_structures_of_different_tasks_are_labelled_by_task_and_never_share_a_folder(tmp_path):
    """Three tasks (one per init scheme) are three structures; two of one name are refused."""
    config = lambda task: rj.TrainConfig(task=task, optimizer="adam", batch_size=16,  # noqa: E731
                                         epochs=2, eval_every=2)  # fmt: skip
    build = lambda scheme, name: rj.make_train(config(rj.sequence_task(  # noqa: E731
        _recall, cell="gru", hidden=2, readout=1, init=scheme, name=name)))  # fmt: skip
    trains = [build(s, f"recall_{s}") for s in ("glorot", "pytorch")]
    with jax.numpy_dtype_promotion("standard"):  # optax.adam: b ** count (float ** int)
        g = runs.run_grid(trains, 4, out_dir=tmp_path, progress=False, microbatch=4)
    assert [p["task"] for p in g.points] == ["recall_glorot", "recall_pytorch"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "task=recall_glorot", "task=recall_pytorch"]  # fmt: skip
    back = runs.load_grid(tmp_path)  # labelled by task name, not by 64-digit fingerprints
    assert [p["task"] for p in back.points] == ["recall_glorot", "recall_pytorch"]
    assert not {"fingerprint", "name"} & set(back.labels)
    same = [build(s, "recall") for s in ("glorot", "pytorch")]
    with pytest.raises(ValueError, match="structures 1 and 2 have the same labels"):
        runs.run_grid(same, 4, progress=False)
    # named apart, they run; read back, what tells them apart labels them
    with jax.numpy_dtype_promotion("standard"):
        runs.run_grid(same, 4, names=["g", "p"], out_dir=tmp_path / "same", progress=False,
                      microbatch=4)  # fmt: skip
    back = runs.load_grid(tmp_path / "same")  # the builder's argument that differs: init
    assert [p["init"] for p in back.points] == ["glorot", "pytorch"] and "task" not in back.labels
