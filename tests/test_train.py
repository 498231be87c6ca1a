"""make_train: divergence handling, traced hyperparameters, both gradient paths."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import rnn_jax as rj
from rnn_jax import OPTIMIZERS, TrainConfig, datasets, make_train, models
from tests.sweep_config import TINY

KEY = jax.random.key(0)


def test_forced_divergence_is_flagged_and_frozen():
    cfg = TrainConfig(
        task="counting_ones",
        optimizer="sgd",
        hparams={"learning_rate": 50.0},
        n_train=20,
        batch_size=20,
        epochs=20,
        eval_every=4,
        length=10,
        dtype="float32",
    )
    out = jax.jit(jax.vmap(make_train(cfg)))(jax.random.split(jax.random.key(0), 8))
    params = out.params
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
        one = jax.vmap(make_train(dataclasses.replace(TINY, hparams={"learning_rate": lr})))(keys)
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[i], grid), one, rtol=1e-5, atol=1e-6)


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


def _reference_optimizer(name, lr):
    """Each named optimizer built independently of rnn_jax.train."""
    return {
        "sgd": lambda: optax.sgd(lr),
        "momentum": lambda: optax.sgd(lr, momentum=0.8),
        "adam": lambda: optax.adam(lr),
        "rmsprop": lambda: optax.rmsprop(lr, decay=0.5, eps=1e-6, eps_in_sqrt=True),
        "rmsprop_nesterov": lambda: rj.rmsprop_nesterov(lr, decay=0.5, eps=1e-6, momentum=0.8),
        "rprop_seed": lambda: rj.rprop(lr, variant="seed"),
    }.get(name, lambda: rj.rprop(lr, variant=name))()


def _reference_run(cfg, key):
    """The training a TrainConfig describes, as a plain loop: the run's keys, seed 002's data
    and init, disjoint minibatches in order (Rprop: full batch), the optimizer step, and the
    evaluation point (RMSprop-Nesterov: the seed's P). Returns (initial, final) loss, params."""
    k = rj.train_keys(key)
    params = models.adder_init(k.init, cfg.hidden, jnp.float64)
    xs, ts = datasets.binary_addition_data(k.data, cfg.n_train, cfg.bits, jnp.float64)
    opt = _reference_optimizer(cfg.optimizer, cfg.hparams["learning_rate"])
    batch = cfg.n_train if cfg.optimizer.startswith(("rprop", "irprop")) else cfg.batch_size
    n_batches = cfg.n_train // batch

    @jax.jit
    def step(params, state, x, t):
        loss, g = jax.value_and_grad(models.adder_loss)(params, x, t)
        u, state = opt.update(g, state, params, value=loss)
        return optax.apply_updates(params, u), state

    state = opt.init(params)
    initial = float(models.adder_loss(params, xs, ts))
    for i in range(cfg.epochs * (cfg.n_train // cfg.batch_size)):
        j = i % n_batches
        params, state = step(
            params, state, xs[j * batch : (j + 1) * batch], ts[j * batch : (j + 1) * batch]
        )
    if cfg.optimizer == "rmsprop_nesterov":
        params = rj.rmsprop_nesterov_params(params, state)
    return initial, float(models.adder_loss(params, xs, ts)), params


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_equals_a_reference_run(optimizer, request):
    """make_train's run == the plain loop it describes (float64), and that loop trained."""
    if optimizer == "adam":
        request.getfixturevalue("optax_promotion")
    cfg = dataclasses.replace(
        TINY,
        optimizer=optimizer,
        hparams={"learning_rate": 0.05},
        dtype="float64",
        backward="autodiff",
    )
    keys = jax.random.split(jax.random.key(3), 2)
    train = make_train(cfg)
    out = jax.vmap(train)(keys)
    chex.assert_tree_all_finite(out.loss_curve)
    assert train.steps == 8 and train.n_evals == 2
    chex.assert_shape((out.loss_curve, out.accuracy_curve), (2, train.n_evals))
    for i, key in enumerate(keys):
        initial, final, params = _reference_run(cfg, key)
        assert final < initial, "the reference run should make progress in 8 updates"
        assert float(out.final_loss[i]) == pytest.approx(final, rel=1e-9)
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, i=i: a[i], out.params), params, rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize(
    "task,optimizer,lr", [("counting_ones", "irprop-", 0.01), ("next_number", "adam", 0.05)]
)
def test_other_tasks_learn(task, optimizer, lr, optax_promotion):
    cfg = TrainConfig(
        task=task,
        optimizer=optimizer,
        hparams={"learning_rate": lr},
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
    (dict(hparams={"learning_rate": 0.0}), "learning_rate"),
    (dict(hparams={"momentum": 1.0}), "momentum"),
    (dict(hparams={"decay": -0.1}), "decay"),
    (dict(cell="elman"), "cell"),
    (dict(batch_size=5000), "batch_size"),
    (dict(eval_every=7), "eval_every"),
    (dict(bits=11), "bits"),
    (dict(dtype="float16"), "dtype"),
]


@pytest.mark.parametrize("kwargs,name", BAD_CONFIGS)
def test_bad_config_names_the_field(kwargs, name):
    """Refused by the config or, for what needs the task's data, by make_train."""
    with pytest.raises((ValueError, TypeError), match=name):
        make_train(TrainConfig(**kwargs))


def test_unknown_hparam_rejected():
    with pytest.raises(ValueError, match="hparams"):
        make_train(TINY)(jax.random.key(0), {"lr": 0.1})


# (what, call, exception, the message must contain)
BAD_INPUTS = [
    ("config task", lambda: TrainConfig(task="parity"), ValueError, "task"),
    ("config optimizer", lambda: TrainConfig(optimizer="lbfgs"), ValueError, "optimizer"),
    (
        "config lr inf",
        lambda: TrainConfig(hparams={"learning_rate": float("inf")}),
        ValueError,
        "learning_rate",
    ),
    ("config hidden 0", lambda: TrainConfig(hidden=0), ValueError, "hidden"),
    ("config bool size", lambda: TrainConfig(epochs=True), TypeError, "epochs"),
    ("hparam name", lambda: make_train(TINY)(KEY, {"lr": 1.0}), ValueError, "hparams"),
    (
        "lr overflows float32",
        lambda: make_train(TrainConfig(hparams={"learning_rate": 1e39})),
        ValueError,
        "learning_rate = 1e\\+39 overflows float32",
    ),
    (
        "lr underflows float32",
        lambda: make_train(TrainConfig(hparams={"learning_rate": 1e-46})),
        ValueError,
        "below the smallest normal float32",
    ),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def _drift_task(accuracy):
    """One parameter ``p`` from 0, pushed up by SGD (loss ``-p``: ``p = lr * update``); the
    accuracy is a function of ``p`` alone, so which evaluations pass is known in advance."""
    data = lambda key: (jnp.zeros((8, 1)), jnp.zeros(8))  # noqa: E731
    return rj.Task(init=lambda key, hp: jnp.zeros(1), data=data, test_data=data,
                   loss=lambda p, xs, ts: -jnp.sum(p), accuracy=lambda p, test: accuracy(p[0]),
                   name="drift")  # fmt: skip


OUTCOMES = [  # p at the 4 evaluations (every 2 updates, lr 0.1): 0.2, 0.4, 0.6, 0.8
    ("converges and stays", lambda p: (p > 0.5).astype(p.dtype), (1, 6, 1, 0)),
    ("converges then loses it", lambda p: (p < 0.5).astype(p.dtype), (0, 2, 0, 0)),
    ("never", lambda p: 0.0 * p, (0, -1, 0, 0)),
    ("NaN accuracy at one evaluation", lambda p: jnp.where(p > 0.7, jnp.nan, 1.0), (0, 2, 0, 1)),
    ("accuracy above 1", lambda p: 1.0 + p, (0, -1, 0, 1)),
]


@pytest.mark.parametrize("what,accuracy,expected", OUTCOMES, ids=[o[0] for o in OUTCOMES])
def test_outcome_columns_say_when_the_criterion_held(what, accuracy, expected):
    """converged (at the end), first_converged_update, stayed_converged, bad_accuracy."""
    cfg = TrainConfig(task=_drift_task(accuracy), optimizer="sgd", batch_size=8, epochs=8,
                      eval_every=2, dtype="float64", hparams={"learning_rate": 0.1})  # fmt: skip
    out = make_train(cfg)(jax.random.key(0))
    np.testing.assert_allclose(out.params, [0.8])
    got = (out.converged, out.first_converged_update, out.stayed_converged, out.bad_accuracy)
    assert tuple(int(v) for v in got) == expected


def test_a_bad_accuracy_is_counted_and_its_folder_resumes(tmp_path):
    from rnn_jax import runs

    cfg = TrainConfig(task=_drift_task(lambda p: 1.0 + p), optimizer="sgd", batch_size=8,
                      epochs=8, eval_every=2, dtype="float64")  # fmt: skip
    train = make_train(cfg)
    first = runs.run_sweep(train, 4, out_dir=tmp_path, progress=False, microbatch=4)
    assert first.summary["bad_accuracy"] == 4 and first.summary["converged"] == 0
    more = runs.run_sweep(train, 8, out_dir=tmp_path, progress=False, microbatch=4)
    assert more.summary["bad_accuracy"] == 8
    np.testing.assert_array_equal(more.table["final_loss"][:4], first.table["final_loss"])
