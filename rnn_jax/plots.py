"""Matplotlib figures shared by the experiments (PNG files)."""

from rnn_jax._src.plots import curve_figure as curve_figure
from rnn_jax._src.plots import rates_figure as rates_figure

__all__ = [
    "curve_figure",
    "rates_figure",
]
