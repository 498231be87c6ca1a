"""A tiny training configuration: 8 updates, 3-bit addition, so sweeps take seconds."""

from rnn_jax.train import TrainConfig

TINY = TrainConfig(n_train=200, batch_size=50, epochs=2, bits=3, eval_every=4, hidden=3)
