"""A run's identity: settings and environment."""

import threading

import jax
import jax.numpy as jnp
import pytest

import rnn_jax as rj
from rnn_jax.runs import identity, run_sweep
from tests.sweep_config import TINY


def test_identity_names_code_versions_and_hardware():
    env = identity.environment()
    assert len(env["rnn_jax_source_sha256"]) == 64
    for key in ("jax", "jaxlib", "optax", "backend", "device", "cpu"):
        assert env[key]
    assert set(env["cpu_features"].split()) <= set(identity.ISA_FEATURES)
    assert "--xla_backend_optimization_level=0" in env["xla_flags"]  # the tests' own flags


def test_the_xla_flags_recorded_leave_out_the_device_count(monkeypatch):
    """Flags that change numbers are identity; how many CPU devices there are is not."""
    from rnn_jax._src.runs.identity import _xla_flags

    monkeypatch.setenv("XLA_FLAGS", "--b=1 --xla_force_host_platform_device_count=4 --a=2")
    assert _xla_flags() == "--a=2 --b=1"
    assert identity.differences({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == [
        "a.c",
        "d",
    ]


def _counter_task(hidden, scale=1.0):
    """A task factory: what it captures (hidden, scale) decides the numbers."""

    def init(key, hp):
        return {"w": jnp.float32(scale) * jax.random.normal(key, (hidden,))}

    def data(key):
        xs = jax.random.normal(key, (32, hidden))
        return xs, xs.sum(1)

    def loss(p, xs, ts):
        return jnp.mean(jnp.square(xs @ p["w"] - ts))

    def accuracy(p, test):
        return jnp.mean((jnp.abs(test[0] @ p["w"] - test[1]) < 1).astype(jnp.float32))

    return rj.Task(init=init, data=data, test_data=data, loss=loss, accuracy=accuracy, name="sum")


def test_a_tasks_identity_is_everything_it_captures():
    fp = lambda task: identity.describe(task, "task")  # noqa: E731
    assert fp(_counter_task(4)) == fp(_counter_task(4))
    assert fp(_counter_task(4)) != fp(_counter_task(8))  # a captured size
    assert fp(_counter_task(4)) != fp(_counter_task(4, scale=0.5))  # a captured constant
    lock = threading.Lock()
    opaque = _counter_task(4)._replace(loss=lambda p, xs, ts: 0.0 * len(str(lock)))  # noqa
    with pytest.raises(ValueError, match="captures 'lock' is a lock object.*explicit identity"):
        fp(opaque)
    assert fp(opaque._replace(identity="sum-v1")) == {"name": "sum", "identity": "sum-v1"}


def test_a_folder_of_one_task_refuses_the_same_task_with_other_captures(tmp_path):
    config = lambda task: rj.TrainConfig(task=task, optimizer="sgd", batch_size=32,  # noqa: E731
                                         epochs=2, eval_every=1)  # fmt: skip
    small, large = rj.make_train(config(_counter_task(4))), rj.make_train(config(_counter_task(8)))
    run_sweep(small, 4, out_dir=tmp_path, progress=False, microbatch=4)
    with pytest.raises(ValueError, match=r"another run \(it differs in train.task.fingerprint"):
        run_sweep(large, 8, out_dir=tmp_path, progress=False, microbatch=4)


def test_a_run_records_only_the_settings_it_used():
    adder = identity.train_identity(rj.make_train(TINY))
    assert {"cell", "hidden", "bits", "n_train"} <= set(adder) and "length" not in adder
    custom = rj.make_train(rj.TrainConfig(task=_counter_task(4), batch_size=32, eval_every=1))
    recorded = identity.train_identity(custom)
    assert not {"cell", "hidden", "bits", "n_train", "length", "n_test", "backward"} & set(recorded)
    assert recorded["task"]["name"] == "sum" and len(recorded["task"]["fingerprint"]) == 64


def test_a_modules_attributes_that_a_task_reads_are_part_of_its_identity():
    """``helpers.DELAY`` read through a module of the user's: changing it at run time changes
    the fingerprint (the module's name alone would not)."""
    import types

    helpers = types.ModuleType("my_helpers")
    helpers.DELAY = 2
    namespace = {"helpers": helpers, "jnp": jnp}
    exec("def data(key):\n    return jnp.zeros((4, helpers.DELAY))", namespace)  # noqa: S102
    before = identity.fingerprint(namespace["data"])
    helpers.DELAY = 3
    assert identity.fingerprint(namespace["data"]) != before
    helpers.DELAY = 2
    assert identity.fingerprint(namespace["data"]) == before
