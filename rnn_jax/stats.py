"""Statistics of seed sweeps: rates with Wilson intervals, differences, summaries."""

from rnn_jax._src.stats import Z95 as Z95
from rnn_jax._src.stats import rate_difference as rate_difference
from rnn_jax._src.stats import summarize as summarize
from rnn_jax._src.stats import table_row as table_row
from rnn_jax._src.stats import wilson_interval as wilson_interval

__all__ = [
    "Z95",
    "rate_difference",
    "summarize",
    "table_row",
    "wilson_interval",
]
