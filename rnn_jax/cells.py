"""Recurrent cells as data plus pure functions: ``linear``, ``tanh`` (Elman), ``lstm``, ``gru``.

A :class:`Cell` is written for one example; :func:`rnn_jax.unroll` runs it over time and batch.
"""

from rnn_jax._src.cells import CELLS as CELLS
from rnn_jax._src.cells import INIT_SCHEMES as INIT_SCHEMES
from rnn_jax._src.cells import Cell as Cell
from rnn_jax._src.cells import GRUParams as GRUParams
from rnn_jax._src.cells import LinearParams as LinearParams
from rnn_jax._src.cells import LSTMParams as LSTMParams
from rnn_jax._src.cells import TanhParams as TanhParams
from rnn_jax._src.cells import glorot_uniform as glorot_uniform
from rnn_jax._src.cells import gru as gru
from rnn_jax._src.cells import linear as linear
from rnn_jax._src.cells import lstm as lstm
from rnn_jax._src.cells import orthogonal_blocks as orthogonal_blocks
from rnn_jax._src.cells import tanh as tanh
from rnn_jax._src.cells import uniform_fan as uniform_fan

__all__ = [
    "CELLS",
    "Cell",
    "GRUParams",
    "INIT_SCHEMES",
    "LSTMParams",
    "LinearParams",
    "TanhParams",
    "glorot_uniform",
    "gru",
    "linear",
    "lstm",
    "orthogonal_blocks",
    "tanh",
    "uniform_fan",
]
