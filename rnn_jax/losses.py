"""Losses from logits, numerically stable, each honouring an optional mask."""

from rnn_jax._src.losses import mse as mse
from rnn_jax._src.losses import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from rnn_jax._src.losses import softmax_cross_entropy as softmax_cross_entropy

__all__ = ["mse", "sigmoid_binary_cross_entropy", "softmax_cross_entropy"]
