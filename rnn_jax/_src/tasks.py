"""Tasks: what a seed sweep trains and how it judges the result.

A :class:`Task` is a small record of pure functions (the protocol :func:`rnn_jax.make_train`
uses); the three seed tasks of :data:`TASKS` are built on it from a
:class:`rnn_jax.TrainConfig`, and a task of your own is passed to ``TrainConfig(task=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rnn_jax._src import datasets, imports, models
from rnn_jax._src.cells import CELLS
from rnn_jax._src.registry import Registry

Array = jax.Array


def same_layout(xs, ts):
    """The identity: minibatches are used as :attr:`Task.data` lays them out."""
    return xs, ts


def tfb_layout(xs, ts):
    """Batch-major ``(..., B, T, F)`` inputs and ``(..., B, T)`` targets -> ``(..., T, F, B)``
    and ``(..., T, B)``, the layout the seed models compute in (``layout="TFB"``)."""
    return jnp.moveaxis(xs, -3, -1), jnp.swapaxes(ts, -1, -2)


class Task(NamedTuple):
    """A training problem for :func:`rnn_jax.make_train`: model, data, loss and criterion.

    Every function is pure and traced inside the training run (under ``jit`` and ``vmap`` over
    seeds), so it must use ``jax.numpy`` and take its randomness from the key it is given.

    Attributes:
      init: ``(key, hparams) -> params``, the initial parameters (a pytree of float arrays);
        ``hparams`` holds (traced) values for the keys of :attr:`hparams`.
      data: ``key -> (xs, ts)``, the training set; the leading axis of both is the sample
        (``n`` samples are cut into ``n // batch_size`` minibatches, in order).
      test_data: ``key -> test``, whatever :attr:`accuracy` takes (the key may be ignored).
      loss: ``(params, xs, ts) -> scalar``, the mean loss of one minibatch, ``xs``/``ts`` as
        :attr:`layout` returns them.
      accuracy: ``(params, test) -> scalar`` in ``[0, 1]``: the fraction of test items right.
      hparams: default values of the hyperparameters :attr:`init` reads (e.g. ``init_scale``).
      layout: ``(xs, ts) -> (xs, ts)``, applied once per run to the stacked minibatches
        (leading axes ``(n_batches, batch_size)``) and to the whole training set (leading axis
        ``n``): it must keep the leading axes. Default: the identity.
      criterion: a run has converged when its final accuracy is ``>= criterion``.
      name: a label for tables and a run's identity.
      identity: what tells this task apart in a saved run's identity, when its functions
        capture something rnn_jax cannot describe by value (otherwise a fingerprint of their
        code and of everything they capture is recorded); change it whenever the task would
        compute other numbers.

    Example:
      >>> import jax, jax.numpy as jnp, rnn_jax as rj
      >>> def data(key):  # 256 sequences of 6 bits; target: the first bit, at the end
      ...     bits = jax.random.bernoulli(key, 0.5, (256, 6, 1)).astype(jnp.float32)
      ...     return bits, bits[:, 0, 0]
      >>> def init(key, hp):
      ...     k1, k2 = jax.random.split(key)
      ...     return (rj.cells.gru.init(k1, 1, 4), 0.5 * jax.random.normal(k2, (4,)))
      >>> def logits(p, xs):
      ...     _, h = rj.unroll(rj.cells.gru, p[0], xs)
      ...     return h @ p[1]
      >>> first_bit = rj.Task(
      ...     init=init,
      ...     data=data,
      ...     test_data=data,
      ...     loss=lambda p, xs, ts: rj.losses.sigmoid_binary_cross_entropy(logits(p, xs), ts),
      ...     accuracy=lambda p, test: jnp.mean((logits(p, test[0]) > 0) == (test[1] > 0.5)),
      ...     name="first_bit",
      ... )
      >>> train = rj.make_train(rj.TrainConfig(task=first_bit, optimizer="adam", batch_size=32))
      >>> train.steps
      40
    """

    init: Callable[[Array, Mapping[str, Array]], Any]
    data: Callable[[Array], tuple[Array, Array]]
    test_data: Callable[[Array], Any]
    loss: Callable[[Any, Array, Array], Array]
    accuracy: Callable[[Any, Any], Array]
    hparams: Mapping[str, float] = {}
    layout: Callable[[Array, Array], tuple[Array, Array]] = same_layout
    criterion: float = 1.0
    name: str = "custom"
    identity: Any = None


INIT_SCALE = {"init_scale": 1.0}


def binary_addition(config) -> Task:
    """Seed 002's task for ``config``: ``config.n_train`` random pairs of ``config.bits``-bit
    numbers, the adder with ``config.cell`` and ``config.hidden`` states, converged when all
    ``4**bits`` pairs are summed exactly (evaluated as a prefix tree)."""
    dtype = jnp.dtype(config.dtype)
    cell = CELLS[config.cell]
    options = dict(
        cell=cell, backward=config.backward, layout="TFB", scan_unroll=config.scan_unroll
    )
    return Task(
        init=lambda key, hp: models.adder_init(
            key, config.hidden, dtype, cell=cell, init_scale=hp["init_scale"], scheme=config.init
        ),
        data=lambda key: datasets.binary_addition_data(key, config.n_train, config.bits, dtype),
        test_data=lambda key: datasets.addition_prefix_tree(config.bits, dtype),
        loss=lambda p, x, t: models.adder_loss(p, x, t, **options),
        accuracy=lambda p, tree: models.adder_tree_accuracy(p, tree, cell=cell),
        hparams=INIT_SCALE,
        layout=tfb_layout,
        name="binary_addition",
    )


def counting_ones(config) -> Task:
    """Seed 000's task: count the ones in ``config.length``-step binary sequences with the
    scalar linear RNN, started uniformly in ``[-2, 2]² · init_scale``; converged when every
    test sequence's count rounds right."""
    dtype = jnp.dtype(config.dtype)

    def init(key, hp):
        w = jax.random.uniform(key, (2,), jnp.float32, -2.0, 2.0).astype(dtype)
        w = w * jnp.asarray(hp["init_scale"], dtype)
        return models.counter_init(w[0], w[1], dtype)

    def accuracy(params, test):
        xs, ts = test
        out = models.counter_apply(params, xs, scan_unroll=config.scan_unroll)
        return jnp.mean((jnp.round(out) == ts).astype(dtype))

    return Task(
        init=init,
        data=lambda key: datasets.counting_ones_data(key, config.n_train, config.length, dtype),
        test_data=lambda key: datasets.counting_ones_data(key, config.n_test, config.length, dtype),
        loss=lambda p, x, t: models.counter_loss(
            p, x, t, backward=config.backward, scan_unroll=config.scan_unroll
        ),
        accuracy=accuracy,
        hparams=INIT_SCALE,
        name="counting_ones",
    )


def next_number(config) -> Task:
    """Seed 001's task: predict ``(x_t + 1) mod 3`` at every step with the tagger
    (Glorot-uniform init times ``init_scale``); converged at 100% on held-out sequences."""
    dtype = jnp.dtype(config.dtype)

    def init(key, hp):
        params = models.tagger_init(key, 3, config.hidden, dtype=dtype, scheme=config.init)
        return jax.tree.map(lambda a: a * jnp.asarray(hp["init_scale"], dtype), params)

    def accuracy(params, test):
        xs, ts = test
        logits = models.tagger_apply(params, xs, scan_unroll=config.scan_unroll)
        pred = jnp.argmax(logits, axis=-1).astype(ts.dtype)
        return jnp.mean((pred == ts).astype(dtype))

    def loss(params, xs, ts):
        return models.tagger_loss(
            params,
            xs,
            ts,
            backward=config.backward,
            reduction="mean",
            scan_unroll=config.scan_unroll,
        )

    return Task(
        init=init,
        data=lambda key: datasets.next_number_data(key, config.n_train, config.length),
        test_data=lambda key: datasets.next_number_data(key, config.n_test, config.length),
        loss=loss,
        accuracy=accuracy,
        hparams=INIT_SCALE,
        name="next_number",
    )


#: The seed tasks by name, each a function ``TrainConfig -> Task``.
TASKS: Registry[Callable[[Any], Task]] = Registry(
    "task",
    {
        "binary_addition": binary_addition,
        "counting_ones": counting_ones,
        "next_number": next_number,
    },
)

#: The fields of a TrainConfig that size the seed tasks; a task reads only some of them
#: (:data:`USES`), and a task object or factory none: a run records only those it used.
SIZES = ("cell", "init", "hidden", "n_train", "bits", "length", "n_test", "backward", "scan_unroll")

#: The :data:`SIZES` each seed task reads.
USES = {
    "binary_addition": ("cell", "init", "hidden", "n_train", "bits", "backward", "scan_unroll"),
    "counting_ones": ("n_train", "length", "n_test", "backward", "scan_unroll"),
    "next_number": ("init", "hidden", "n_train", "length", "n_test", "backward", "scan_unroll"),
}

#: What a task must provide, for the error a user task without one gets.
REQUIRED = ("init", "data", "test_data", "loss", "accuracy")


def _is_task(obj) -> bool:
    return isinstance(obj, Task) or all(callable(getattr(obj, n, None)) for n in REQUIRED)


def as_task(task, config) -> Task:
    """A name of :data:`TASKS` (built for ``config``) or a :class:`Task`; anything else, or a
    task missing a function, is a one-line error naming what is missing."""
    if imports.is_import_string(task):
        obj = imports.resolve(task, "--task")
        if not _is_task(obj):
            if not callable(obj):
                raise TypeError(
                    f"--task {task!r} is a {type(obj).__name__}, not an rnn_jax.Task or a "
                    "factory of one"
                )
            try:
                obj = obj(**config.task_args)
            except TypeError as e:
                raise TypeError(f"--task {task!r} with --task-args: {e}") from None
            if not _is_task(obj):
                raise TypeError(
                    f"--task {task!r} returned a {type(obj).__name__}, not an rnn_jax.Task"
                )
        task = obj
    elif isinstance(task, str):
        return TASKS[task](config)
    missing = [name for name in REQUIRED if not callable(getattr(task, name, None))]
    if missing:
        raise TypeError(
            f"task must be a name of {sorted(TASKS)} or an rnn_jax.Task; "
            f"{type(task).__name__} lacks the function(s) {missing}"
        )
    criterion = getattr(task, "criterion", 1.0)
    if (
        isinstance(criterion, bool)
        or not isinstance(criterion, int | float)
        or not 0 <= criterion <= 1
    ):
        raise ValueError(
            f"task criterion must be a number in [0, 1] (an accuracy), got {criterion!r}"
        )
    if not isinstance(task, Task):  # any object with the protocol's attributes
        task = Task(
            *(getattr(task, name) for name in REQUIRED),
            hparams=getattr(task, "hparams", {}),
            layout=getattr(task, "layout", same_layout),
            criterion=getattr(task, "criterion", 1.0),
            name=getattr(task, "name", type(task).__name__),
            identity=getattr(task, "identity", None),
        )
    return task
