"""Statistics of seed sweeps: rates with Wilson intervals, paired and unpaired differences,
exact McNemar tests, Holm's correction, summaries."""

from rnn_jax._src.stats import Z95 as Z95
from rnn_jax._src.stats import compare_to_baseline as compare_to_baseline
from rnn_jax._src.stats import format_p as format_p
from rnn_jax._src.stats import holm as holm
from rnn_jax._src.stats import mcnemar_exact as mcnemar_exact
from rnn_jax._src.stats import paired_difference as paired_difference
from rnn_jax._src.stats import rate_difference as rate_difference
from rnn_jax._src.stats import summarize as summarize
from rnn_jax._src.stats import table_row as table_row
from rnn_jax._src.stats import wilson_interval as wilson_interval

__all__ = [
    "Z95",
    "compare_to_baseline",
    "format_p",
    "holm",
    "mcnemar_exact",
    "paired_difference",
    "rate_difference",
    "summarize",
    "table_row",
    "wilson_interval",
]
