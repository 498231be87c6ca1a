"""Figures draw every point they are given, visibly, on labelled axes.

Each test draws from a few synthetic rows, then checks the returned figure: every input point
is in the drawn data (lines' ``get_xydata``, collections' paths) and its display coordinates
are finite and inside the axes' box; 95% intervals are drawn where promised.
"""

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from rnn_jax.runs import plots
from tests.plots_helpers import assert_drawn, assert_visible, drawn

PNG = b"\x89PNG\r\n\x1a\n"


def _row(rate, width=0.1, **settings):
    lo, hi = max(0.0, rate - width), min(1.0, rate + width)
    return {"rate": rate, "ci_low": lo, "ci_high": hi, **settings}


def _assert_saved_and_labelled(fig, path):
    assert path.read_bytes().startswith(PNG)
    ax = fig.axes[0]
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip()
    return ax


def _assert_bands(ax, rows, x):
    """The 95% interval of each row is drawn: its ends are vertices of a band and visible."""
    vertices = drawn(ax)
    ends = [(r[x], r["ci_low"]) for r in rows] + [(r[x], r["ci_high"]) for r in rows]
    assert_drawn(vertices, ends)
    assert_visible(ax.figure, ax, ends)


MOMENTA = [0.0, 0.5, 0.9, 0.99, 0.999]


@pytest.mark.parametrize("kwargs,scale", [({}, "linear"), ({"logx": True}, "symlog")])
def test_rate_curve_figure_keeps_a_swept_zero(tmp_path, kwargs, scale):
    # Under the old always-log x axis, momentum 0 fell off the figure: 4 points shown, 5 rows.
    rates = [0.0, 0.2, 0.5, 0.9, 1.0]
    rows = [_row(r, optimizer="momentum", momentum=m) for m, r in zip(MOMENTA, rates)]
    fig = plots.rate_curve_figure(rows, tmp_path / "rate.png", x="momentum", **kwargs)
    ax = _assert_saved_and_labelled(fig, tmp_path / "rate.png")
    points = [(r["momentum"], r["rate"]) for r in rows]
    np.testing.assert_array_equal(ax.lines[0].get_xydata(), points)
    assert_visible(fig, ax, points)
    _assert_bands(ax, rows, "momentum")
    assert ax.get_xscale() == scale


@pytest.mark.parametrize(
    "xs,logx,scale",
    [
        ([1e-3, 1e-2, 1e-1, 1.0], None, "log"),  # four decades
        ([0.01, 0.05, 0.1], None, "linear"),  # one decade: a log axis would not help
        ([1e-3, 1e-1], False, "linear"),
        ([0.01, 0.05], True, "log"),
        ([-1.0, 0.0, 2.0], True, "symlog"),
        ([0.3], None, "linear"),  # a single point
        ([0.3], True, "log"),
        ([0.3, 0.3, 0.3], True, "log"),  # equal values
        ([0.0, 0.0], True, "symlog"),
    ],
)
def test_rate_curve_figure_scale_follows_the_data(tmp_path, xs, logx, scale):
    rows = [_row(0.5, optimizer="sgd", decay=x) for x in xs]
    fig = plots.rate_curve_figure(rows, tmp_path / "rate.png", x="decay", logx=logx)
    ax = _assert_saved_and_labelled(fig, tmp_path / "rate.png")
    assert ax.get_xscale() == scale
    points = [(x, 0.5) for x in xs]
    assert_drawn(ax.lines[0].get_xydata(), points)
    assert_visible(fig, ax, points)
    _assert_bands(ax, rows, "decay")


def test_rate_curve_figure_groups_as_its_callers_use_it(tmp_path):
    # capacity_budget / convergence_sweep: integer x, one line per group, logx=False.
    rows = [
        _row(r, **{"hidden units": h, "updates": u})
        for h, us in [(2, [0, 500, 1000]), (8, [500, 1000])]
        for u, r in zip(us, [0.1, 0.6, 1.0])
    ]
    fig = plots.rate_curve_figure(rows, tmp_path / "b.png", x="updates", group="hidden units",
                                  logx=False)  # fmt: skip
    ax = _assert_saved_and_labelled(fig, tmp_path / "b.png")
    assert len(ax.lines) == 2 and ax.get_xscale() == "linear"
    points = [(r["updates"], r["rate"]) for r in rows]
    assert_drawn(drawn(ax, collections=False), points)
    assert_visible(fig, ax, points)
    _assert_bands(ax, rows, "updates")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "hidden units 2",
        "hidden units 8",
    ]


@pytest.mark.parametrize("rates", [[0.0, 0.4, 1.0], [0.5], [0.7, 0.7]])
def test_rates_figure_draws_each_rate_with_its_interval(tmp_path, rates):
    rows = [_row(r, optimizer=f"opt{i}", learning_rate=10.0**-i) for i, r in enumerate(rates)]
    fig = plots.rates_figure(rows, tmp_path / "r.png", title="rates")
    ax = _assert_saved_and_labelled(fig, tmp_path / "r.png")
    assert all(t.get_text() for t in ax.get_xticklabels())  # a label per row
    points = [(i, r) for i, r in enumerate(rates)]
    assert_drawn(ax.lines[0].get_xydata(), points)
    assert_visible(fig, ax, points)
    (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = [np.asarray(s).tolist() for s in bars.get_segments()]
    for i, r in enumerate(rows):
        assert [[i, r["ci_low"]], [i, r["ci_high"]]] in segments
        assert_visible(fig, ax, [(i, r["ci_low"]), (i, r["ci_high"])])


def test_heatmap_figure_fills_every_cell_and_prints_its_interval(tmp_path):
    rows = [
        _row(r, decay=d, hidden=h)
        for (d, h), r in zip([(0.0, 2), (0.9, 2), (0.0, 8), (0.99, 8)], [0.0, 0.3, 0.6, 1.0])
    ]
    fig = plots.heatmap_figure(rows, tmp_path / "h.png", x="decay", y="hidden")
    ax = _assert_saved_and_labelled(fig, tmp_path / "h.png")
    grid = np.ma.filled(ax.images[0].get_array(), np.nan)
    xv, yv = [0.0, 0.9, 0.99], [2, 8]
    assert grid.shape == (2, 3)
    texts = {tuple(t.get_position()): t.get_text() for t in ax.texts}
    for r in rows:
        i, j = yv.index(r["hidden"]), xv.index(r["decay"])
        assert grid[i, j] == r["rate"]
        assert texts[j, i] == f"{r['rate']:.2f}\n[{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
        assert_visible(fig, ax, [(j, i)])
    assert np.isnan(grid[0, 2]) and np.isnan(grid[1, 1])  # no row: blank
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.9", "0.99"]
    with pytest.raises(ValueError, match="two rows for the cell decay=0.0, hidden=2"):
        plots.heatmap_figure([*rows, rows[0]], tmp_path / "h2.png", x="decay", y="hidden")
    one = plots.heatmap_figure(rows[:1], tmp_path / "h1.png", x="decay", y="hidden")
    assert one.axes[0].images[0].get_array().shape == (1, 1)


def _quantiles(loss):
    return np.nanquantile(np.where(np.isfinite(loss), loss, np.nan), [0.1, 0.5, 0.9], axis=0)


def test_loss_bands_figure_draws_median_and_band_even_with_zero_and_nan(tmp_path):
    update = np.array([0, 10, 20, 30])
    loss = np.array(
        [
            [1.0, 0.1, 0.01, 0.0],  # a loss of exactly 0: not on a log axis
            [2.0, 0.2, 0.02, 0.0],
            [1.5, 0.3, 0.03, 0.001],
            [1.0, np.nan, np.inf, np.nan],  # diverged
            [3.0, 3.0, 3.0, 3.0],
        ]
    )
    converged = np.array([True, True, True, False, False])
    fig = plots.loss_bands_figure(update, loss, converged, tmp_path / "l.png")
    ax = _assert_saved_and_labelled(fig, tmp_path / "l.png")
    assert ax.get_yscale() == "symlog"
    lines = [line for line in ax.lines if len(line.get_xdata())]
    assert len(lines) == 2 and len(ax.collections) == 2
    for mask, line, band in zip([converged, ~converged], lines, ax.collections):
        q10, q50, q90 = _quantiles(loss[mask])
        np.testing.assert_array_equal(line.get_xydata(), np.column_stack([update, q50]))
        points = np.column_stack([update, q50])
        assert_visible(fig, ax, points)
        ends = np.concatenate([np.column_stack([update, q10]), np.column_stack([update, q90])])
        assert_drawn(band.get_paths()[0].vertices, ends)
        assert_visible(fig, ax, ends)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[2] == "not converged (2 seeds; NaN/inf losses of 1 left out): median"


def test_loss_bands_figure_says_when_a_group_has_no_finite_loss(tmp_path):
    loss = np.array([[1.0, 0.5], [np.nan, np.nan]])
    fig = plots.loss_bands_figure([0, 1], loss, [True, False], tmp_path / "l.png")
    ax = _assert_saved_and_labelled(fig, tmp_path / "l.png")
    assert ax.get_yscale() == "log"
    assert_visible(fig, ax, [(0, 1.0), (1, 0.5)])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "not converged (1 seeds; NaN/inf losses of 1 left out): no finite loss, not drawn" in (
        labels
    )
    # A single evaluation: a marker and a bar, not a zero-width band.
    fig = plots.loss_bands_figure([5], [[0.2], [0.4], [0.3]], [True] * 3, tmp_path / "one.png")
    ax = fig.axes[0]
    assert ax.lines[0].get_marker() == "o"
    (bar,) = ax.collections
    assert_drawn(bar.get_paths()[0].vertices, [(5, 0.22), (5, 0.38)])
    assert_visible(fig, ax, [(5, 0.3), (5, 0.22), (5, 0.38)])
    with pytest.raises(ValueError, match="loss must be"):
        plots.loss_bands_figure([0, 1, 2], loss, [True, False], tmp_path / "bad.png")


def test_ecdf_figure_steps_through_every_converged_seed(tmp_path):
    series = {
        "adam": (np.array([0, 40, 40, 100, -1]), np.array([1, 1, 1, 1, 0], bool)),
        "sgd": (np.array([-1, -1]), np.array([0, 0], bool)),  # none converged
        "one": (np.array([70]), np.array([1], bool)),
    }
    fig = plots.ecdf_figure(series, 100, tmp_path / "e.png")
    ax = _assert_saved_and_labelled(fig, tmp_path / "e.png")
    want = {
        "adam": [(0, 0), (0, 0.2), (40, 0.4), (40, 0.6), (100, 0.8)],
        "sgd": [(0, 0), (100, 0)],
        "one": [(0, 0), (70, 1), (100, 1)],
    }
    for line, points in zip(ax.lines, want.values()):
        assert_drawn(line.get_xydata(), points)
        assert_visible(fig, ax, points)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["adam (4/5)", "sgd (0/2)",
                                                                   "one (1/1)"]  # fmt: skip


@pytest.mark.parametrize(
    "x,y,logx,scale",
    [
        ([4, 8, 16, 32], [1.0, 0.9, 0.5, 0.0], True, "log"),  # binary_addition's call
        ([-2.0, 0.0, 3.0], [-0.5, 0.2, 1.4], False, "linear"),  # negative values, y past ylim
        ([0.0, 2.0, 8.0], [0.1, 0.2, 0.3], True, "symlog"),
        ([-4.0, -1.0], [-3.0, -3.0], True, "symlog"),  # equal values
        ([6.0], [0.5], True, "log"),  # a single point
        ([1.0, 1024.0], [0.5, 0.6], None, "log"),
    ],
)
def test_xy_figure_keeps_every_point(tmp_path, x, y, logx, scale):
    fig = plots.xy_figure(x, y, tmp_path / "xy.png", "length (bits)", "accuracy", logx=logx)
    ax = _assert_saved_and_labelled(fig, tmp_path / "xy.png")
    assert ax.get_xscale() == scale
    if scale != "linear":
        assert ax.get_xaxis().get_transform().base == 2
    points = np.column_stack([x, y])
    np.testing.assert_array_equal(ax.lines[0].get_xydata(), points)
    assert_visible(fig, ax, points)
    lo, hi = ax.get_ylim()
    assert lo <= min(-0.02, *y) and hi >= max(1.02, *y)  # the default ylim, widened to the data
    assert [float(t) for t in ax.get_xticks()] == [float(v) for v in x]


def test_curve_figure_keeps_zero_negative_and_single_values(tmp_path):
    curves = {"a": np.array([1.0, 0.1, 0.0, 1e-3]), "b": np.array([-0.5, 2.0, np.nan]),
              "c": np.array([0.25])}  # fmt: skip
    fig = plots.curve_figure(curves, tmp_path / "c.png", "epoch", "loss")
    ax = _assert_saved_and_labelled(fig, tmp_path / "c.png")
    assert ax.get_yscale() == "symlog"
    for line, y in zip(ax.lines, curves.values()):
        finite = np.isfinite(y)
        points = np.column_stack([np.arange(y.size), y])[finite]
        assert_drawn(line.get_xydata(), points)
        assert_visible(fig, ax, points)
    assert ax.lines[2].get_marker() == "o"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a", "b (1 non-finite values not drawn)", "c"]
    positive = plots.curve_figure({"a": [1.0, 0.01]}, tmp_path / "p.png", "epoch", "loss")
    assert positive.axes[0].get_yscale() == "log"
    linear = plots.curve_figure({"a": [1.0, -1.0]}, tmp_path / "q.png", "t", "v", logy=False)
    assert linear.axes[0].get_yscale() == "linear"
