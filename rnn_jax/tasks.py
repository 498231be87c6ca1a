"""The seed tasks, each a function ``TrainConfig -> rnn_jax.Task`` (the entries of
:data:`rnn_jax.TASKS`), and the layouts a task may declare."""

from rnn_jax._src.tasks import binary_addition as binary_addition
from rnn_jax._src.tasks import counting_ones as counting_ones
from rnn_jax._src.tasks import next_number as next_number
from rnn_jax._src.tasks import same_layout as same_layout
from rnn_jax._src.tasks import tfb_layout as tfb_layout

__all__ = [
    "binary_addition",
    "counting_ones",
    "next_number",
    "same_layout",
    "tfb_layout",
]
