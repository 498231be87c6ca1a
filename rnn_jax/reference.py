"""Literal NumPy transcriptions of the seeds' algorithms (independent test references)."""

from rnn_jax._src.reference import PARAM_ORDER as PARAM_ORDER
from rnn_jax._src.reference import seed000_backward_gradient as seed000_backward_gradient
from rnn_jax._src.reference import seed000_forward_states as seed000_forward_states
from rnn_jax._src.reference import seed000_rprop as seed000_rprop
from rnn_jax._src.reference import seed001_backpropagation as seed001_backpropagation
from rnn_jax._src.reference import seed001_feedforward as seed001_feedforward
from rnn_jax._src.reference import seed002_converged as seed002_converged
from rnn_jax._src.reference import seed002_cost as seed002_cost
from rnn_jax._src.reference import seed002_data as seed002_data
from rnn_jax._src.reference import seed002_encode as seed002_encode
from rnn_jax._src.reference import seed002_forward as seed002_forward
from rnn_jax._src.reference import seed002_grads as seed002_grads
from rnn_jax._src.reference import seed002_init as seed002_init
from rnn_jax._src.reference import seed002_train as seed002_train

__all__ = [
    "PARAM_ORDER",
    "seed000_backward_gradient",
    "seed000_forward_states",
    "seed000_rprop",
    "seed001_backpropagation",
    "seed001_feedforward",
    "seed002_converged",
    "seed002_cost",
    "seed002_data",
    "seed002_encode",
    "seed002_forward",
    "seed002_grads",
    "seed002_init",
    "seed002_train",
]
