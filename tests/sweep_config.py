"""A tiny training configuration: 8 updates, 3-bit addition, so sweeps take seconds."""

from rnn_jax.train import TrainConfig

TINY = TrainConfig(n_train=200, batch_size=50, epochs=2, bits=3, eval_every=4, hidden=3)

#: The same configuration as command-line flags for the experiment scripts.
TINY_FLAGS = [
    f"--{name.replace('_', '-')}={getattr(TINY, name)}"
    for name in ("n_train", "batch_size", "epochs", "bits", "eval_every")
]
