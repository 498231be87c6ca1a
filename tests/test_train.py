"""make_train: divergence handling, traced hyperparameters, both gradient paths."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_jax.train import OPTIMIZERS, TrainConfig, make_train
from tests.sweep_config import TINY


def test_forced_divergence_is_flagged_and_frozen():
    cfg = TrainConfig(
        task="counting_ones",
        optimizer="sgd",
        learning_rate=50.0,
        n_train=20,
        batch_size=20,
        epochs=20,
        eval_every=4,
        length=10,
        dtype="float32",
    )
    train = jax.jit(jax.vmap(make_train(cfg, return_params=True)))
    params, out = train(jax.random.split(jax.random.key(0), 8))
    assert bool(out.diverged.all())
    assert not bool(out.converged.any())
    assert bool((out.diverged_step >= 0).all())
    chex.assert_tree_all_finite(params)  # frozen at the last finite values


def test_traced_hparams_equal_separate_configs():
    keys = jax.random.split(jax.random.key(1), 4)
    lrs = jnp.array([0.01, 0.05])
    grid = jax.jit(jax.vmap(jax.vmap(make_train(TINY), in_axes=(0, None)), in_axes=(None, 0)))(
        keys, {"learning_rate": lrs}
    )
    for i, lr in enumerate([0.01, 0.05]):
        one = jax.vmap(make_train(dataclasses.replace(TINY, learning_rate=lr)))(keys)
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[i], grid), one, rtol=1e-5)


def test_both_gradient_paths_give_the_same_outcome_in_float64():
    keys = jax.random.split(jax.random.key(2), 4)
    a = jax.vmap(make_train(dataclasses.replace(TINY, dtype="float64", backward="bptt")))(keys)
    b = jax.vmap(make_train(dataclasses.replace(TINY, dtype="float64", backward="autodiff")))(keys)
    chex.assert_trees_all_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.fixture
def optax_promotion():
    """optax.adam computes ``b ** count`` (float ** int32): not strict-promotion clean upstream."""
    with jax.numpy_dtype_promotion("standard"):
        yield


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains_finite(optimizer, request):
    if optimizer == "adam":
        request.getfixturevalue("optax_promotion")
    cfg = dataclasses.replace(TINY, optimizer=optimizer, learning_rate=0.01)
    out = jax.vmap(make_train(cfg))(jax.random.split(jax.random.key(3), 2))
    chex.assert_tree_all_finite(out.loss_curve)
    chex.assert_shape(out.loss_curve, (2, TINY.steps // TINY.eval_every))
    assert bool(out.final_loss.max() < out.loss_curve[:, 0].max() * 2)


@pytest.mark.parametrize(
    "task,optimizer,lr", [("counting_ones", "irprop-", 0.01), ("next_number", "adam", 0.05)]
)
def test_other_tasks_learn(task, optimizer, lr, optax_promotion):
    cfg = TrainConfig(
        task=task,
        optimizer=optimizer,
        learning_rate=lr,
        hidden=8,
        n_train=100,
        batch_size=100,
        epochs=200,
        eval_every=50,
        length=6,
    )
    out = jax.jit(jax.vmap(make_train(cfg)))(jax.random.split(jax.random.key(4), 8))
    assert float(np.mean(out.converged)) >= 0.5
    assert bool((out.loss_curve[:, -1] < out.loss_curve[:, 0]).all())


BAD_CONFIGS = [
    (dict(task="parity"), "task"),
    (dict(optimizer="lbfgs"), "optimizer"),
    (dict(backward="numeric"), "backward"),
    (dict(hidden=0), "hidden"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(momentum=1.0), "momentum"),
    (dict(decay=-0.1), "decay"),
    (dict(batch_size=5000), "batch_size"),
    (dict(eval_every=7), "eval_every"),
    (dict(bits=11), "bits"),
    (dict(dtype="float16"), "dtype"),
]


@pytest.mark.parametrize("kwargs,name", BAD_CONFIGS)
def test_bad_config_names_the_field(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        TrainConfig(**kwargs)


def test_unknown_hparam_rejected():
    with pytest.raises(ValueError, match="hparams"):
        make_train(TINY)(jax.random.key(0), {"lr": 0.1})
