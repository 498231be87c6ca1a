"""What a matplotlib figure drew, and whether a point is visible on it (for the figure tests)."""

import numpy as np


def drawn(ax, collections=True):
    """Every (x, y) the axes hold in data coordinates: lines' points, collections' vertices."""
    parts = [line.get_xydata() for line in ax.lines]
    if collections:
        parts += [p.vertices for c in ax.collections for p in c.get_paths()]
    parts = [np.asarray(p, float).reshape(-1, 2) for p in parts]
    return np.concatenate(parts) if parts else np.empty((0, 2))


def assert_drawn(drawn, points):
    for p in np.asarray(points, float).reshape(-1, 2):
        assert np.any(np.all(np.isclose(drawn, p, rtol=1e-12, atol=0), axis=1)), (p, drawn)


def assert_visible(fig, ax, points):
    """Each point's display position is finite and inside the axes (edges included)."""
    fig.draw_without_rendering()
    box = ax.get_window_extent()
    shown = ax.transData.transform(np.asarray(points, float).reshape(-1, 2))
    assert np.all(np.isfinite(shown)), (points, shown, ax.get_xscale(), ax.get_yscale())
    tol = 1e-6 * max(box.width, box.height)
    inside = (
        (shown[:, 0] >= box.x0 - tol)
        & (shown[:, 0] <= box.x1 + tol)
        & (shown[:, 1] >= box.y0 - tol)
        & (shown[:, 1] <= box.y1 + tol)
    )
    assert inside.all(), (np.asarray(points)[~inside], ax.get_xlim(), ax.get_ylim())
