"""Small helpers shared by the tests."""

import jax
import jax.numpy as jnp

import rnn_jax as rj


def random_params(cell, key, in_size, hidden, dtype=jnp.float64, scale=0.3):
    """Cell parameters with every leaf (biases too) random, so no gradient is trivially zero."""
    k_init, k_noise = jax.random.split(key)
    params = cell.init(k_init, in_size, hidden, dtype)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(k_noise, len(leaves))
    leaves = [p + scale * jax.random.normal(k, p.shape, p.dtype) for p, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, leaves)


def random_carry(cell, key, hidden, batch=None, dtype=jnp.float64):
    shape = (hidden,) if batch is None else (batch, hidden)
    leaves, treedef = jax.tree.flatten(cell.zero_carry(hidden, dtype))
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(treedef, [jax.random.normal(k, shape, dtype) for k in keys])


def prefix_mask(lengths, steps):
    return jnp.arange(steps)[None, :] < jnp.asarray(lengths)[:, None]


def max_rel_err(a, b):
    return float(rj.relative_error(a, b))


class CompileCounter:
    """Counts XLA backend compilations while active (``jax.monitoring`` events)."""

    _active: list = []

    def __init__(self):
        self.count = 0

    def __enter__(self):
        CompileCounter._active.append(self)
        return self

    def __exit__(self, *exc):
        CompileCounter._active.remove(self)

    @staticmethod
    def _listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            for counter in CompileCounter._active:
                counter.count += 1


jax.monitoring.register_event_duration_secs_listener(CompileCounter._listen)
