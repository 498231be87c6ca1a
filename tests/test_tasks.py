"""The task protocol: the seed tasks, your own task, the adder with every cell, and errors."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnn_jax as rj
from rnn_jax import runs
from tests.helpers import CompileCounter
from tests.sweep_config import TINY


def _first_bit_task(n=64, steps=5, hidden=4):
    """Recall the first of ``steps`` bits at the end, with a GRU and a linear readout."""

    def data(key):
        bits = jax.random.bernoulli(key, 0.5, (n, steps, 1)).astype(jnp.float64)
        return bits, bits[:, 0, 0]

    def init(key, hp):
        k1, k2 = jax.random.split(key)
        scale = hp["init_scale"]
        cell = jax.tree.map(lambda a: a * scale, rj.cells.gru.init(k1, 1, hidden, jnp.float64))
        return {"cell": cell, "w": jax.random.normal(k2, (hidden,), jnp.float64)}

    def logits(p, xs):
        _, h = rj.unroll(rj.cells.gru, p["cell"], xs, backward="bptt", scan_unroll=1)
        return h @ p["w"]

    def loss(p, xs, ts):
        return rj.losses.sigmoid_binary_cross_entropy(logits(p, xs), ts)

    def accuracy(p, test):
        xs, ts = test
        return jnp.mean(((logits(p, xs) > 0) == (ts > 0.5)).astype(jnp.float64))

    return rj.Task(init, data, data, loss, accuracy, {"init_scale": 1.0}, name="first_bit")


def test_your_task_trains_sweeps_and_compiles_once_for_a_grid():
    cfg = rj.TrainConfig(
        task=_first_bit_task(), optimizer="adam", batch_size=16, epochs=20,
        eval_every=10, dtype="float64",
    )  # fmt: skip
    train = rj.make_train(cfg)
    assert (train.n_train, train.batches, train.steps, train.n_evals) == (64, 4, 80, 8)
    assert sorted(train.hparams) == ["b1", "b2", "eps", "init_scale", "learning_rate"]
    grid = {"learning_rate": [0.01, 0.05], "init_scale": [0.5, 1.0]}
    with jax.numpy_dtype_promotion("standard"):  # optax.adam: b ** count (float ** int)
        runs.run_sweep(train, 8, progress=False, microbatch=8)  # compiles the small helpers too
        with CompileCounter() as compiles:
            results = runs.run_grid(train, 8, grid, progress=False, microbatch=8).sweeps
        alone = runs.run_sweep(train, 8, hparams=results[3].hparams, progress=False, microbatch=8)
    # four grid points, one training executable (the hyperparameters are traced)
    assert compiles.names.count("local") == 1, compiles.names
    assert [r.hparams["init_scale"] for r in results] == [0.5, 1.0, 0.5, 1.0]
    for c in alone.table:
        np.testing.assert_array_equal(alone.table[c], results[3].table[c])
    best = max(results, key=lambda r: r.summary["mean_accuracy"])
    assert best.summary["mean_accuracy"] > 0.9  # the GRU learns to recall the first bit
    np.testing.assert_array_equal(best.curves["update"], np.arange(10, 81, 10))
    chex.assert_shape((best.curves["loss"], best.curves["accuracy"]), (8, 8))


@pytest.mark.parametrize("cell", ["linear", "tanh", "lstm", "gru"])
def test_the_adder_takes_any_cell_with_both_gradient_paths(cell):
    """Any cell and hidden size in the adder: hand BPTT == jax.grad through the whole run."""
    cfg = dataclasses.replace(TINY, cell=cell, hidden=4, dtype="float64", optimizer="adam")
    keys = jax.random.split(jax.random.key(2), 2)
    with jax.numpy_dtype_promotion("standard"):
        a = jax.vmap(rj.make_train(cfg))(keys)
        b = jax.vmap(rj.make_train(dataclasses.replace(cfg, backward="autodiff")))(keys)
    chex.assert_trees_all_close(a, b, rtol=1e-9, atol=1e-12)
    g = cfg.hidden * rj.cells.CELLS[cell].gates
    chex.assert_shape(a.params.w_rec, (2, 4, g))
    assert bool((a.final_loss < a.loss_curve[:, 0]).all())


def test_gru_adder_biases_are_pytorchs():
    """b_rec's candidate block sits inside the reset product, like PyTorch's b_hn."""
    p = rj.models.adder_init(jax.random.key(0), 2, jnp.float64, cell=rj.cells.gru)
    p = p._replace(b_in=jnp.arange(6.0) / 10, b_rec=jnp.arange(6.0, 12.0) / 10)
    cp = rj.cells.gru.params_from(p.w_in, p.w_rec, p.b_in, p.b_rec)
    np.testing.assert_allclose(cp.b, [0.6, 0.8, 1.0, 1.2, 0.4, 0.5])
    np.testing.assert_allclose(cp.b_hn, [1.0, 1.1])


class NoAccuracy:
    init = staticmethod(lambda key, hp: jnp.zeros(3))
    data = test_data = staticmethod(lambda key: (jnp.zeros((4, 2)), jnp.zeros(4)))
    loss = staticmethod(lambda p, x, t: jnp.sum(p))


BAD = [
    ("unknown name", dict(task="parity"), ValueError, "task must be one of"),
    (
        "missing method",
        dict(task=NoAccuracy()),
        TypeError,
        r"lacks the function\(s\) \['accuracy'\]",
    ),
    (
        "shapes do not fit",
        dict(task=_first_bit_task()._replace(loss=lambda p, x, t: x @ p["w"])),
        ValueError,
        "task 'first_bit': loss failed on a minibatch",
    ),
    (
        "loss not scalar",
        dict(task=_first_bit_task()._replace(loss=lambda p, x, t: t)),
        ValueError,
        "loss must return a scalar",
    ),
    (
        "float32 params in a float64 run",
        dict(task=_first_bit_task()._replace(init=lambda k, hp: jnp.zeros(3, jnp.float32))),
        TypeError,
        r"dtype float64 was asked for, but task 'first_bit' makes parameters of dtype",
    ),
    ("batch does not divide", dict(task=_first_bit_task(), batch_size=24), ValueError, "divide"),
]


@pytest.mark.parametrize("what,kwargs,exc,match", BAD, ids=[b[0] for b in BAD])
def test_bad_tasks_are_one_line_errors_before_any_compile(what, kwargs, exc, match):
    base = dict(batch_size=16, eval_every=4, dtype="float64")
    with pytest.raises(exc, match=match) as e:
        rj.make_train(rj.TrainConfig(**{**base, **kwargs}))
    assert "\n" not in str(e.value)


def test_seed_tasks_are_registry_entries_built_on_the_protocol():
    for name, build in rj.TASKS.items():
        task = build(TINY)
        assert isinstance(task, rj.Task) and task.name == name
        assert task.hparams == {"init_scale": 1.0}


@pytest.mark.parametrize("criterion", [float("nan"), 2.0, -0.1, "1"])
def test_a_criterion_must_be_an_accuracy(criterion):
    task = _first_bit_task()._replace(criterion=criterion)
    with pytest.raises(ValueError, match="criterion must be a number in \\[0, 1\\]"):
        rj.make_train(rj.TrainConfig(task=task, batch_size=16, epochs=20, eval_every=10))
