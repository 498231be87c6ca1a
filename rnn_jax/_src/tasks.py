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

from rnn_jax._src import cells as cells_lib
from rnn_jax._src import datasets, imports, models
from rnn_jax._src.cells import CELLS, check_scheme
from rnn_jax._src.linalg import matmul_t
from rnn_jax._src.registry import Registry
from rnn_jax._src.unroll import unroll

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

#: The losses :func:`sequence_task` offers, by the kind of target.
LOSSES = ("sigmoid", "softmax", "mse")


def _faster_backward(cell: str, hidden: int) -> str:
    """The backward pass :func:`sequence_task` uses unless told otherwise: the faster of the
    two as measured by ``experiments/benchmark.py`` (docs/speed.md). Hand BPTT for the
    linear and tanh cells (0.91-1.53x ``jax.grad``'s speed, mostly above 1), and for an LSTM or
    GRU of at most 16 units (1.04-3.06x; delayed recall's GRU of 4: 1.30x end to end);
    ``jax.grad`` for a wider gated cell (hand BPTT 0.77-1.03x at 32 units, 0.79-0.92x at 256).
    """
    return "bptt" if CELLS[cell].gates == 1 or hidden <= 16 else "autodiff"


def _steps(readout, length: int, name: str) -> slice:
    """The time steps a readout reads: every step, the last one, or from step ``k`` on."""
    if readout == "every":
        return slice(0, length)
    if readout == "last":
        return slice(length - 1, length)
    if isinstance(readout, int) and not isinstance(readout, bool) and 0 <= readout < length:
        return slice(readout, length)
    raise ValueError(
        f"task {name!r}: readout must be 'every', 'last' or a step in [0, {length}), "
        f"got {readout!r}"
    )


def sequence_task(
    data: Callable[[Array], tuple[Array, Array]],
    *,
    cell: str = "tanh",
    hidden: int = 8,
    readout: str | int = "every",
    loss: str = "sigmoid",
    outputs: int = 1,
    test_data: Callable[[Array], tuple[Array, Array]] | None = None,
    init: str = "glorot",
    backward: str | None = None,
    criterion: float = 1.0,
    name: str = "sequence",
    identity: Any = None,
) -> Task:
    """A :class:`Task` for the common shape of sequence problem, fast by construction.

    A recurrent ``cell`` of ``hidden`` units reads ``xs`` ``(n, T, F)`` and a linear readout
    predicts a target at every step it reads (``readout``): every step, the last one, or
    every step from ``k`` on. The network computes in the time-feature-batch layout with the
    readout inside the time scan (no transposes, no stored states), and a run converges
    when every target of every test sequence is right (exact match).

    .. math:: h_t = \\mathrm{cell}(h_{t-1}, x_t), \\quad y_t = h_t W + b, \\quad
       t \\in \text{readout steps}

    Args:
      data: ``key -> (xs, ts)``: ``xs`` ``(n, T, F)``; ``ts`` the targets at the steps read,
        ``(n, T)`` (or ``(n, T, outputs)`` for ``"mse"`` with several outputs); with
        ``readout="last"`` also ``(n,)``. Targets at steps not read are ignored.
      cell: ``"linear"``, ``"tanh"``, ``"lstm"`` or ``"gru"``.
      hidden: hidden units.
      readout: ``"every"``, ``"last"``, or an int ``k``: the steps ``k .. T-1``.
      loss: ``"sigmoid"`` (0/1 targets; right when the logit's sign matches), ``"softmax"``
        (integer classes in ``[0, outputs)``; right when the largest logit is the class), or
        ``"mse"`` (real targets; right when the prediction rounds to the target).
      outputs: logits per step (classes for ``"softmax"``; 1 for ``"sigmoid"``).
      test_data: ``key -> (xs, ts)`` of the test set (default: ``data``, with the run's test
        key); an enumeration of every input makes convergence exact.
      init: the cell's initialisation scheme (:data:`rnn_jax.cells.INIT_SCHEMES`); the
        readout is Glorot-uniform (``"pytorch"``: ``U(±1/sqrt(H))``) with a zero bias.
      backward: ``"bptt"`` or ``"autodiff"``; default the faster for the cell and size as
        measured (``docs/speed.md``): hand BPTT for a linear or tanh cell and for an LSTM or
        GRU of at most 16 units, ``jax.grad`` for a wider LSTM or GRU.
      criterion: the accuracy (fraction of test sequences exactly right) that counts as
        converged.
      name: a label for tables.
      identity: names ``data`` and ``test_data`` in the run's identity instead of their
        fingerprints (which hash their code and everything they capture); the builder's
        other arguments are recorded either way, readably (a resume with another ``hidden``
        is refused naming ``hidden``).

    Returns:
      The :class:`Task`.

    Example:
      >>> import jax, jax.numpy as jnp, rnn_jax as rj
      >>> def recall(key):  # the bit seen 3 steps earlier, from step 3 on
      ...     bits = jax.random.bernoulli(key, 0.5, (256, 8, 1)).astype(jnp.float32)
      ...     return bits, jnp.roll(bits[..., 0], 3, axis=1)
      >>> task = rj.sequence_task(recall, cell="gru", hidden=4, readout=3, name="recall")
      >>> train = rj.make_train(rj.TrainConfig(task=task, optimizer="adam", batch_size=64,
      ...                                      epochs=2, eval_every=2))
      >>> train.steps, train.hparams["learning_rate"]
      (8, 0.1)
    """
    from rnn_jax._src import losses, scan

    the_cell = CELLS[cell]
    check_scheme(init)
    if loss not in LOSSES:
        raise ValueError(f"task {name!r}: loss must be one of {LOSSES}, got {loss!r}")
    for arg, value in (("hidden", hidden), ("outputs", outputs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"task {name!r}: {arg} must be an int >= 1, got {value!r}")
    if loss == "sigmoid" and outputs != 1:
        raise ValueError(f"task {name!r}: a sigmoid loss reads one logit per step (outputs=1)")
    if loss == "softmax" and outputs < 2:
        raise ValueError(f"task {name!r}: a softmax loss needs outputs >= 2 classes")
    backward = _faster_backward(cell, hidden) if backward is None else backward
    scan.check_options(backward, "TFB", 1)
    test_data = data if test_data is None else test_data
    _check_same_targets(data, test_data, name)
    builder = dict(cell=cell, hidden=hidden, readout=readout, loss=loss, outputs=outputs,
                   init=init, backward=backward, criterion=criterion)  # fmt: skip

    def init_params(key, hp):
        k_cell, k_out = jax.random.split(key)
        dtype = jnp.result_type(float)
        params = the_cell.init(k_cell, _features(data), hidden, dtype, scheme=init)
        if init == "pytorch":
            w = cells_lib.uniform_fan(k_out, hidden, (hidden, outputs), dtype)
        else:
            w = cells_lib.glorot_uniform(k_out, hidden, outputs, (hidden, outputs), dtype)
        return {"cell": params, "w": w, "b": jnp.zeros((outputs,), dtype)}

    def logits(params, xs):  # xs (T, F, B) -> (T, outputs, B) at the steps read
        w, b = params["w"], params["b"]
        ys, _ = unroll(
            the_cell,
            params["cell"],
            xs,
            readout=lambda h: matmul_t(w, h) + b[:, None],
            backward=backward,
            layout="TFB",
        )
        return ys[_steps(readout, xs.shape[0], name)]

    per_sequence = 2 if loss == "mse" and outputs > 1 else 1  # ts.ndim without a time axis

    def targets(ts, steps):  # (B, T[, O]) -> (S, B[, O]); per-sequence (B[, O]) -> (1, B[, O])
        if ts.ndim == per_sequence:
            return ts[None]
        return jnp.moveaxis(ts, 1, 0)[steps]

    def layout(xs, ts):  # (..., B, T, F) -> (..., T, F, B) in the run's dtype; targets as given
        return jnp.moveaxis(xs, -3, -1).astype(jnp.result_type(float)), ts

    def task_loss(params, xs, ts):
        z = logits(params, xs)  # (S, O, B)
        t = targets(ts, _steps(readout, xs.shape[0], name))  # (S, B[, O])
        if loss == "sigmoid":
            return losses.sigmoid_binary_cross_entropy(z[:, 0, :], t.astype(z.dtype))
        if loss == "softmax":
            return losses.softmax_cross_entropy(jnp.swapaxes(z, 1, 2), t.astype(jnp.int32))
        t = t if t.ndim == 3 else t[..., None]
        return losses.mse(jnp.swapaxes(z, 1, 2), t.astype(z.dtype))

    def accuracy(params, test):
        xs, ts = test
        z = logits(params, jnp.moveaxis(jnp.asarray(xs), 0, -1).astype(params["w"].dtype))
        t = targets(ts, _steps(readout, xs.shape[1], name))
        if loss == "sigmoid":
            right = (z[:, 0, :] > 0) == (t > 0.5)
        elif loss == "softmax":
            right = jnp.argmax(z, axis=1).astype(jnp.int32) == t.astype(jnp.int32)
        else:
            t = t if t.ndim == 3 else t[..., None]
            right = jnp.all(jnp.round(jnp.swapaxes(z, 1, 2)) == t, axis=-1)
        return jnp.mean(jnp.all(right, axis=0).astype(z.dtype))

    return Task(
        init=init_params,
        data=data,
        test_data=test_data,
        loss=task_loss,
        accuracy=accuracy,
        layout=layout,
        criterion=criterion,
        name=name,
        # the builder's arguments, readably, and the data by the user's explicit identity or
        # (fingerprinted where the run is recorded) by its functions
        identity={
            **builder,
            **(
                {"data": data, "test_data": test_data}
                if identity is None
                else {"identity": identity}
            ),
        },  # fmt: skip
    )


def _check_same_targets(data, test_data, name: str) -> None:
    """The test set's targets have the training targets' rank (per step, or per sequence): a
    per-sequence test target against per-step training targets would broadcast silently."""
    if test_data is data:
        return
    try:
        (_, ts), (_, test_ts) = (jax.eval_shape(f, jax.random.key(0)) for f in (data, test_data))
    except Exception:  # noqa: BLE001 - make_train reports a data function that fails
        return
    if len(ts.shape) != len(test_ts.shape):
        raise ValueError(
            f"task {name!r}: test_data's targets have shape {test_ts.shape}, data's {ts.shape}: "
            "they must have the same rank"
        )


def _features(data) -> int:
    """The input features of a data function's ``xs`` ``(n, T, F)``, from its shapes alone."""
    xs, _ = jax.eval_shape(data, jax.random.key(0))
    if len(xs.shape) != 3:
        raise ValueError(f"data must return xs of shape (n, T, F), got {xs.shape}")
    return xs.shape[2]


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
