"""rnn_jax: small recurrent networks in JAX, their hand-written BPTT, Rprop and
RMSprop-Nesterov as optax transformations, and convergence studies over many seeds."""

from rnn_jax import cells, gradcheck, losses, models, optim, tasks
from rnn_jax.bptt import BPTTGrads, bptt, unroll_bptt, unroll_bptt_fm
from rnn_jax.cells import CELLS, Cell, GRUParams, LinearParams, LSTMParams, TanhParams, get_cell
from rnn_jax.gradcheck import check_grad, numerical_grad, relative_error
from rnn_jax.optim import (
    RPROP_VARIANTS,
    RmspropNesterovState,
    ScaleByRpropState,
    rmsprop_nesterov,
    rmsprop_nesterov_params,
    rprop,
    scale_by_rprop,
)
from rnn_jax.unroll import unroll, unroll_fm

__version__ = "0.1.0"

__all__ = [
    "BPTTGrads",
    "CELLS",
    "Cell",
    "GRUParams",
    "LSTMParams",
    "LinearParams",
    "RPROP_VARIANTS",
    "RmspropNesterovState",
    "ScaleByRpropState",
    "TanhParams",
    "bptt",
    "cells",
    "check_grad",
    "get_cell",
    "gradcheck",
    "losses",
    "models",
    "numerical_grad",
    "optim",
    "relative_error",
    "rmsprop_nesterov",
    "rmsprop_nesterov_params",
    "rprop",
    "scale_by_rprop",
    "tasks",
    "unroll",
    "unroll_bptt",
    "unroll_bptt_fm",
    "unroll_fm",
]
