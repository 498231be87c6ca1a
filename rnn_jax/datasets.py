"""Data generators of the seed tasks, as pure functions of a ``jax.random`` key, and the
seeds' own printed data."""

from rnn_jax._src.datasets import MAX_ENUMERATED_BITS as MAX_ENUMERATED_BITS
from rnn_jax._src.datasets import SEED000_T as SEED000_T
from rnn_jax._src.datasets import SEED000_TEST as SEED000_TEST
from rnn_jax._src.datasets import SEED000_X as SEED000_X
from rnn_jax._src.datasets import addition_prefix_tree as addition_prefix_tree
from rnn_jax._src.datasets import all_addition_pairs as all_addition_pairs
from rnn_jax._src.datasets import all_delayed_recall as all_delayed_recall
from rnn_jax._src.datasets import binary_addition_data as binary_addition_data
from rnn_jax._src.datasets import counting_ones_data as counting_ones_data
from rnn_jax._src.datasets import delayed_recall_data as delayed_recall_data
from rnn_jax._src.datasets import encode_addition as encode_addition
from rnn_jax._src.datasets import from_bits as from_bits
from rnn_jax._src.datasets import long_addition as long_addition
from rnn_jax._src.datasets import next_number_data as next_number_data
from rnn_jax._src.datasets import to_bits as to_bits

__all__ = [
    "MAX_ENUMERATED_BITS",
    "SEED000_T",
    "SEED000_TEST",
    "SEED000_X",
    "addition_prefix_tree",
    "all_addition_pairs",
    "all_delayed_recall",
    "binary_addition_data",
    "counting_ones_data",
    "delayed_recall_data",
    "encode_addition",
    "from_bits",
    "long_addition",
    "next_number_data",
    "to_bits",
]
