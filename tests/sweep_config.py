"""A tiny training configuration: 8 updates, 3-bit addition, so sweeps take seconds.

``scan_unroll=1`` (rolled scans) keeps its compile short; the default unrolled path is run by
the experiment tests and compared with the rolled one in ``test_bptt.py``.
"""

from rnn_jax import TrainConfig

TINY = TrainConfig(
    n_train=200, batch_size=50, epochs=2, bits=3, eval_every=4, hidden=3, scan_unroll=1
)

#: The same configuration as command-line flags for the experiment scripts.
TINY_FLAGS = [
    f"--{name.replace('_', '-')}={getattr(TINY, name)}"
    for name in ("n_train", "batch_size", "epochs", "bits", "eval_every", "scan_unroll")
]
