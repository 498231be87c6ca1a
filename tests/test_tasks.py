"""The task protocol: the seed tasks, your own task, the adder with every cell, and errors."""

import dataclasses
import json

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
    (
        "accuracy not scalar",
        dict(task=_first_bit_task()._replace(accuracy=lambda p, test: test[1])),
        ValueError,
        r"accuracy must return a scalar .* got shape \(64,\)",
    ),
    (
        "a seed task's size on your task",
        dict(task=_first_bit_task(), hidden=8, init="pytorch"),
        ValueError,
        r"sets \['init', 'hidden'\], which only the named tasks",
    ),
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


def _recall_data(key, n=32, steps=6, lag=2):
    """Bits in; the bit seen ``lag`` steps earlier as the target at every step."""
    bits = jax.random.bernoulli(key, 0.5, (n, steps, 1)).astype(jnp.float64)
    return bits, jnp.roll(bits[..., 0], lag, axis=1)


def _reference_logits(cell, params, xs):
    """(n, T, F) -> (n, T, O): one step at a time through ``cell.step``, vmapped over n."""
    hidden = params["w"].shape[0]
    carry = jax.vmap(lambda _: cell.zero_carry(hidden, jnp.float64))(xs[:, 0])
    step = jax.vmap(cell.step, in_axes=(None, 0, 0))
    out = []
    for t in range(xs.shape[1]):
        carry, h = step(params["cell"], carry, xs[:, t])
        out.append(np.asarray(h) @ np.asarray(params["w"]) + np.asarray(params["b"]))
    return np.stack(out, axis=1)


def _reference_loss(loss, z, ts):
    """The mean loss of logits ``z`` (n, S, O) against targets ``ts`` (n, S[, O]), literally."""
    if loss == "sigmoid":
        z, t = z[..., 0], ts
        return np.mean(np.logaddexp(0, z) - t * z)
    if loss == "softmax":
        log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return -np.mean(np.take_along_axis(log_p, ts[..., None].astype(int), -1))
    return np.mean((z - (ts if ts.ndim == 3 else ts[..., None])) ** 2)


def _exact_match(loss, z, ts):
    if loss == "sigmoid":
        right = (z[..., 0] > 0) == (ts > 0.5)
    elif loss == "softmax":
        right = z.argmax(-1) == ts
    else:
        right = np.all(np.round(z) == (ts if ts.ndim == 3 else ts[..., None]), -1)
    return np.mean(np.all(right, axis=1))


SEQUENCE_CASES = [
    ("every", "sigmoid", 1, "tanh", lambda ts: ts, slice(0, 6)),
    ("last", "sigmoid", 1, "gru", lambda ts: ts[:, -1], slice(5, 6)),
    (2, "sigmoid", 1, "lstm", lambda ts: ts, slice(2, 6)),
    ("every", "softmax", 3, "gru", lambda ts: (ts + jnp.roll(ts, 1, 1)).astype(int), slice(0, 6)),
    (4, "mse", 1, "linear", lambda ts: ts, slice(4, 6)),
    ("every", "mse", 2, "tanh", lambda ts: jnp.stack([ts, 1 - ts], -1), slice(0, 6)),
]


@pytest.mark.parametrize(
    "readout,loss,outputs,cell,targets,steps", SEQUENCE_CASES,
    ids=[f"{c[0]}-{c[1]}{c[2]}-{c[3]}" for c in SEQUENCE_CASES],
)  # fmt: skip
def test_sequence_task_loss_and_accuracy_match_a_step_by_step_reference(
    readout, loss, outputs, cell, targets, steps
):
    """The builder's loss, gradient and exact-match accuracy against a loop over cell.step."""

    def data(key):
        xs, ts = _recall_data(key)
        return xs, targets(ts)

    task = rj.sequence_task(data, cell=cell, hidden=3, readout=readout, loss=loss,
                            outputs=outputs, name="recall")  # fmt: skip
    params = task.init(jax.random.key(1), {})
    chex.assert_shape((params["w"], params["b"]), [(3, outputs), (outputs,)])
    xs, ts = data(jax.random.key(2))
    z = _reference_logits(rj.cells.CELLS[cell], params, xs)[:, steps]
    t = (
        np.asarray(ts)[:, steps]
        if ts.ndim > (2 if loss == "mse" and outputs > 1 else 1)
        else (np.asarray(ts)[:, None])
    )
    lx, lt = task.layout(xs[None], ts[None])
    got = task.loss(params, lx[0], lt[0])
    np.testing.assert_allclose(got, _reference_loss(loss, z, t), rtol=1e-12)
    assert float(task.accuracy(params, (xs, ts))) == _exact_match(loss, z, t)
    g = jax.grad(task.loss)(params, lx[0], lt[0])
    chex.assert_trees_all_equal_shapes(g, params)
    assert all(bool(jnp.isfinite(a).all()) for a in jax.tree.leaves(g))


def test_sequence_task_learns_delayed_recall_and_its_identity_is_its_arguments():
    """A GRU learns to recall the bit 2 steps back; the builder's arguments decide identity."""

    def data(key):
        return _recall_data(key, n=256)

    def build(**changes):
        args = dict(cell="gru", hidden=4, readout=2, init="glorot", name="recall")
        return rj.sequence_task(data, **{**args, **changes})

    def cfg(task):
        return rj.TrainConfig(task=task, optimizer="adam", batch_size=32, epochs=15, eval_every=8,
                              dtype="float64", hparams={"learning_rate": 0.05})  # fmt: skip

    describe = lambda task: runs.identity.describe(task, "task")  # noqa: E731
    assert describe(build()) == describe(build())
    for change in (dict(hidden=8), dict(init="pytorch"), dict(readout=3), dict(cell="lstm")):
        assert describe(build()) != describe(build(**change)), change
        # an explicit identity names the data only: the builder's arguments still count
        named = describe(build(identity="recall v1"))
        assert named != describe(build(identity="recall v1", **change)), change
    with jax.numpy_dtype_promotion("standard"):
        r = runs.run_sweep(rj.make_train(cfg(build())), 4, progress=False, microbatch=4)
    assert r.summary["converged"] >= 2, r.table["accuracy"]
    assert (r.table["accuracy"][r.table["converged"] == 1] == 1.0).all()


SEQUENCE_BAD = [
    (dict(cell="rnn"), KeyError, "rnn"),
    (dict(loss="hinge"), ValueError, "loss must be one of"),
    (dict(hidden=0), ValueError, "hidden must be an int >= 1"),
    (dict(loss="sigmoid", outputs=2), ValueError, "one logit per step"),
    (dict(readout=6), ValueError, "readout"),
    (dict(init="he"), ValueError, "scheme"),
    (dict(backward="adjoint"), ValueError, "backward"),
    (dict(loss="softmax", outputs=1), ValueError, "outputs >= 2 classes"),
    (
        dict(test_data=lambda key: (_recall_data(key)[0], _recall_data(key)[1][:, 0])),
        ValueError,
        r"test_data's targets have shape \(32,\), data's \(32, 6\)",
    ),
]


@pytest.mark.parametrize(
    "kwargs,exc,match",
    SEQUENCE_BAD,
    ids=[f"{i}-{'-'.join(b[0])}" for i, b in enumerate(SEQUENCE_BAD)],
)
def test_sequence_task_refuses_bad_arguments_in_one_line(kwargs, exc, match):
    with pytest.raises(exc, match=match) as e:
        task = rj.sequence_task(_recall_data, **kwargs)
        rj.make_train(rj.TrainConfig(task=task, batch_size=16, eval_every=1, dtype="float64"))
    assert "\n" not in str(e.value)


def test_a_builder_tasks_folder_refuses_other_arguments_naming_them(tmp_path):
    """config.json records the builder's arguments readably, and a resume with another
    ``hidden`` is refused naming ``hidden``."""
    config = lambda hidden: rj.TrainConfig(  # noqa: E731
        task=rj.sequence_task(_recall_data, cell="tanh", hidden=hidden, readout=2),
        optimizer="sgd", batch_size=16, epochs=1, eval_every=2, dtype="float64",
    )  # fmt: skip
    runs.run_sweep(rj.make_train(config(3)), 2, out_dir=tmp_path, progress=False, microbatch=2)
    recorded = json.loads((tmp_path / "config.json").read_text())["train"]["task"]["identity"]
    assert recorded["hidden"] == 3 and len(recorded["data"]["fingerprint"]) == 64
    with pytest.raises(ValueError, match=r"differs in train\.task\.identity\.hidden\)"):
        runs.run_sweep(rj.make_train(config(5)), 2, out_dir=tmp_path, progress=False,
                       microbatch=2)  # fmt: skip
