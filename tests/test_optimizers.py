"""The optimizer registry and your own optimizers: factories, traced hyperparameters, errors."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import optax
import pytest

import rnn_jax as rj
from rnn_jax import runs
from tests.sweep_config import TINY


def test_registry_entries_build_what_their_names_say():
    assert set(rj.OPTIMIZERS) == {
        "sgd", "momentum", "adam", "rmsprop", "rmsprop_nesterov",
        "rprop_seed", "rprop-", "irprop-", "rprop+", "irprop+",
    }  # fmt: skip
    for name, opt in rj.OPTIMIZERS.items():
        assert opt.name == name
        assert isinstance(opt.factory(opt.hparams), optax.GradientTransformation)
        assert opt.full_batch == name.startswith(("rprop", "irprop"))
    assert rj.OPTIMIZERS["rmsprop_nesterov"].eval_params is rj.rmsprop_nesterov_params
    with pytest.raises(ValueError, match="optimizer must be one of"):
        rj.OPTIMIZERS["lbfgs"]


def _lion(hp):
    return optax.lion(hp["learning_rate"], b1=hp["b1"], b2=hp["b2"])


LION = rj.Optimizer(_lion, {"learning_rate": 0.01, "b1": 0.9, "b2": 0.99}, name="lion")


def test_your_optimizer_trains_as_the_same_optax_loop(optax_promotion=None):
    """A user factory (optax.lion) in make_train == a plain loop with optax.lion (float64)."""
    cfg = dataclasses.replace(TINY, optimizer=LION, dtype="float64", backward="autodiff")
    train = rj.make_train(cfg)
    assert train.hparams == {"b1": 0.9, "b2": 0.99, "init_scale": 1.0, "learning_rate": 0.01}
    key = jax.random.key(5)
    out = train(key)
    k = rj.train_keys(key)
    params = rj.models.adder_init(k.init, 3, jnp.float64)
    xs, ts = rj.datasets.binary_addition_data(k.data, TINY.n_train, TINY.bits, jnp.float64)
    opt = optax.lion(0.01, b1=0.9, b2=0.99)
    state = opt.init(params)
    for i in range(train.steps):
        j = i % train.batches
        x, t = xs[j * 50 : (j + 1) * 50], ts[j * 50 : (j + 1) * 50]
        g = jax.grad(rj.models.adder_loss)(params, x, t)
        u, state = opt.update(g, state, params)
        params = optax.apply_updates(params, u)
    chex.assert_trees_all_close(out.params, params, rtol=1e-9, atol=1e-12)


def test_a_bare_factory_chains_and_schedules_work():
    """Any hparams -> GradientTransformation: chains, schedules, inject_hyperparams."""

    def clipped_schedule(hp):
        sched = optax.linear_schedule(hp["learning_rate"], 0.0, 8)
        return optax.chain(optax.clip_by_global_norm(1.0), rj.rmsprop_nesterov(sched))

    def injected(hp):
        return optax.inject_hyperparams(optax.sgd)(learning_rate=hp["learning_rate"])

    for factory in (clipped_schedule, injected):
        cfg = dataclasses.replace(TINY, optimizer=factory, hparams={"learning_rate": 0.1})
        train = rj.make_train(cfg)
        assert train.optimizer.name == factory.__name__
        out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 2))
        chex.assert_tree_all_finite(out.final_loss)


def test_traced_hparams_reach_the_optimizer():
    """Two values of b1, traced, give the runs of two configs that fix them."""
    keys = jax.random.split(jax.random.key(1), 2)
    train = rj.make_train(dataclasses.replace(TINY, optimizer=LION))
    both = jax.jit(jax.vmap(train, in_axes=(None, 0)))(keys[0], {"b1": jnp.array([0.5, 0.95])})
    for i, b1 in enumerate([0.5, 0.95]):
        alone = rj.make_train(dataclasses.replace(TINY, optimizer=LION, hparams={"b1": b1}))
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, i=i: a[i], both), alone(keys[0]), rtol=1e-6, atol=1e-7
        )
    assert not jnp.allclose(both.final_loss[0], both.final_loss[1])


BAD = [
    (
        "not a transformation",
        dict(optimizer=rj.Optimizer(lambda hp: "sgd", {"learning_rate": 0.1}, name="bad")),
        TypeError,
        r"optimizer 'bad': its factory must return an optax.GradientTransformation, got str",
    ),
    (
        "factory raises",
        dict(optimizer=rj.Optimizer(lambda hp: optax.sgd(float(hp["lr"])), {"lr": 1.0}, name="z")),
        ValueError,
        r"optimizer 'z': its factory failed",
    ),
    (
        "key nothing reads",
        dict(optimizer="sgd", hparams={"momentum": 0.9}),
        ValueError,
        r"hparams \['momentum'\] are read by neither the optimizer 'sgd'",
    ),
    (
        "value missing",
        dict(optimizer=_lion),
        ValueError,
        r"reads \['b1', 'b2', 'learning_rate'\] but no value is given",
    ),
    ("nan", dict(hparams={"learning_rate": float("nan")}), ValueError, "learning_rate"),
    ("out of range", dict(optimizer=LION, hparams={"b1": 1.5}), ValueError, r"b1.*must be"),
    ("negative rate", dict(hparams={"learning_rate": -1.0}), ValueError, "learning_rate"),
    ("not an optimizer", dict(optimizer=3), TypeError, "optimizer must be a name"),
]


@pytest.mark.parametrize("what,kwargs,exc,match", BAD, ids=[b[0] for b in BAD])
def test_bad_optimizers_are_one_line_errors_before_any_compile(what, kwargs, exc, match):
    with pytest.raises(exc, match=match) as e:
        rj.make_train(dataclasses.replace(TINY, **kwargs))
    assert "\n" not in str(e.value)


def test_swept_values_are_checked():
    train = rj.make_train(dataclasses.replace(TINY, optimizer="momentum"))
    for bad, match in [
        ({"momentum": 2.0}, "momentum must be"),
        ({"learning_rate": [0.1, float("inf")]}, "learning_rate must be"),
        ({"learning_rate": [0.1, -0.1]}, "learning_rate must be"),
        ({"lr": 0.1}, r"hparams \['lr'\] are read by neither"),
    ]:
        with pytest.raises(ValueError, match=match):
            train.check_hparams(bad)
        with pytest.raises(ValueError, match=match):
            runs.run_grid(train, 4, [bad], progress=False, microbatch=4)
