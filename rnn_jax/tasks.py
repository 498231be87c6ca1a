"""Tasks: the protocol :func:`rnn_jax.make_train` trains (:class:`Task`) and the seed tasks."""

from rnn_jax._src.tasks import TASKS as TASKS
from rnn_jax._src.tasks import Task as Task
from rnn_jax._src.tasks import binary_addition as binary_addition
from rnn_jax._src.tasks import counting_ones as counting_ones
from rnn_jax._src.tasks import next_number as next_number
from rnn_jax._src.tasks import same_layout as same_layout
from rnn_jax._src.tasks import tfb_layout as tfb_layout

__all__ = [
    "TASKS",
    "Task",
    "binary_addition",
    "counting_ones",
    "next_number",
    "same_layout",
    "tfb_layout",
]
