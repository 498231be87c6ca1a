"""Figures of sweeps and studies (PNG files, written atomically; no pyplot global state)."""

from rnn_jax._src.runs.plots import curve_figure as curve_figure
from rnn_jax._src.runs.plots import ecdf_figure as ecdf_figure
from rnn_jax._src.runs.plots import heatmap_figure as heatmap_figure
from rnn_jax._src.runs.plots import loss_bands_figure as loss_bands_figure
from rnn_jax._src.runs.plots import rate_curve_figure as rate_curve_figure
from rnn_jax._src.runs.plots import rates_figure as rates_figure
from rnn_jax._src.runs.plots import save as save
from rnn_jax._src.runs.plots import subplots as subplots
from rnn_jax._src.runs.plots import xy_figure as xy_figure

__all__ = [
    "curve_figure",
    "ecdf_figure",
    "heatmap_figure",
    "loss_bands_figure",
    "rate_curve_figure",
    "rates_figure",
    "save",
    "subplots",
    "xy_figure",
]
