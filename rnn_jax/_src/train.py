"""``make_train(config) -> train``: one pure, jittable training run per key.

``train(key, hparams) -> Outcome`` builds its data and initial parameters from the key, trains
with a ``lax.scan`` over updates, and returns an :class:`Outcome`. ``jax.vmap(train)(keys)`` is
a seed sweep. Every hyperparameter (the optimizer's and the task's) is a traced argument, so a
grid over them is one compiled function per structure (PureJaxRL's pattern): the structure is
the config; the hyperparameters are values.

Divergence: an update whose loss or gradient is not finite is not applied; the run is frozen at
its last finite parameters, flagged ``diverged`` with the step, and never poisons statistics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from rnn_jax._src import checks, datasets, imports
from rnn_jax._src.cells import CELLS, check_scheme
from rnn_jax._src.optimizers import HPARAM_RANGES, OPTIMIZERS, Optimizer, Range, as_optimizer
from rnn_jax._src.scan import BACKWARDS
from rnn_jax._src.tasks import SIZES, TASKS, Task, as_task

Array = jax.Array
DTYPES = ("float32", "float64")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything static about a training run (its *structure*); derived sizes are
    properties of :func:`make_train`'s result, not fields.

    Defaults are seed 002's: 2000 pairs of 6-bit numbers, 3 tanh states, RMSprop + Nesterov
    (λ = 0.5, lr = 0.05, μ = 0.8, ε = 1e-6), minibatches of 100, 5 epochs = 100 updates.

    Attributes:
      task: a name of :data:`rnn_jax.TASKS`, an :class:`rnn_jax.Task`, or an import string
        ``"module:attribute"`` naming a Task or a factory of one (called with ``task_args``).
      task_args: keyword arguments of a task factory named by an import string (part of the
        run's identity).
      optimizer: a name of :data:`rnn_jax.OPTIMIZERS`, an :class:`rnn_jax.Optimizer`, a
        factory ``hparams -> optax.GradientTransformation``, an import string naming either,
        or ``"optax:NAME"`` (any optax alias; its hyperparameters are read from its
        signature).
      hparams: values for hyperparameters the optimizer or the task read, overriding their
        defaults (``{"learning_rate": 0.1}``); a sweep may override them again per run.
      cell, hidden, bits, length, n_train, n_test: the named tasks' sizes (``cell`` and
        ``hidden`` for the adder and the tagger; ``bits`` for the adder; ``length`` for the
        counter and the tagger). A task object carries its own.
      init: the initialisation scheme of the adder's and the tagger's network: ``"glorot"``
        (seed 002's), ``"pytorch"`` or ``"orthogonal"`` (see :class:`rnn_jax.cells.Cell`).
      batch_size: minibatch size; it must divide the training set. Optimizers with
        ``full_batch`` (Rprop) take the whole set each update, as many updates as minibatches.
      epochs: passes over the training set.
      eval_every: updates between evaluations of the accuracy (the loss curve's resolution and
        ``first_converged_update``'s); it must divide the number of updates.
      backward, scan_unroll: passed to :func:`rnn_jax.unroll` by the named tasks.
      dtype: ``"float32"`` or ``"float64"``. float64 runs with ``jax_enable_x64`` on, in a
        scope that a sweep opens for its own computations only.
    """

    task: str | Task = "binary_addition"
    task_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    optimizer: str | Optimizer | Callable = "rmsprop_nesterov"
    hparams: dict[str, float] = dataclasses.field(default_factory=dict)
    cell: str = "tanh"
    init: str = "glorot"
    hidden: int = 3
    n_train: int = 2000
    batch_size: int = 100
    epochs: int = 5
    bits: int = 6
    length: int = 10
    n_test: int = 100
    eval_every: int = 20
    backward: str = "bptt"
    dtype: str = "float32"
    scan_unroll: int = 8

    def __post_init__(self):
        if isinstance(self.task, str) and not imports.is_import_string(self.task):
            TASKS[self.task]  # noqa: B018 - an unknown name is a one-line error
        if isinstance(self.optimizer, str) and not imports.is_import_string(self.optimizer):
            OPTIMIZERS[self.optimizer]  # noqa: B018
        if not isinstance(self.task_args, Mapping) or not all(
            isinstance(k, str) for k in self.task_args
        ):
            raise TypeError("task_args must be a mapping of argument names to values")
        if self.task_args and not imports.is_import_string(self.task):
            raise ValueError(
                "task_args are the arguments of a task factory named MODULE:ATTRIBUTE; "
                f"task {self.task!r} takes none"
            )
        CELLS[self.cell]  # noqa: B018
        check_scheme(self.init)
        if self.backward not in BACKWARDS:
            raise ValueError(f"backward must be one of {BACKWARDS}, got {self.backward!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        positive = ("hidden", "n_train", "batch_size", "epochs", "length", "n_test", "eval_every")
        for name in (*positive, "scan_unroll"):
            checks.check_positive_int(name, getattr(self, name))
        datasets.check_bits(self.bits, enumerated=True)
        if not isinstance(self.hparams, Mapping):
            raise TypeError(f"hparams must be a mapping, got {type(self.hparams).__name__}")
        for k, v in self.hparams.items():
            if not isinstance(k, str):
                raise TypeError(f"hparams keys must be strings, got {k!r}")
            HPARAM_RANGES.get(k, Range()).check(f"hparams[{k!r}]", v)


class Outcome(NamedTuple):
    """Per-seed result of :func:`make_train`'s ``train``.

    Attributes:
      converged: the task's criterion holds **at the end** (binary addition: all ``4**bits``
        pairs exact; counting: every test sequence rounds to its count; next number: 100% on
        held-out sequences), the run did not diverge and every accuracy was valid.
      first_converged_update: the first evaluated update at which the criterion held, ``-1``
        if never; a run can converge there and lose it later (see ``stayed_converged``).
      stayed_converged: the criterion held at every evaluation from that first one to the end.
      bad_accuracy: an evaluation's accuracy was NaN or outside ``[0, 1]`` (a task's bug):
        such a run never counts as converged.
      accuracy: the final fraction of test items exactly right.
      final_loss: the training loss over the whole training set at the final parameters.
      diverged, diverged_step: a non-finite loss or gradient was met at that update (-1 if
        never); the run was frozen at its last finite parameters.
      loss_curve: ``(n_evals,)``, the mean training loss over each block of ``eval_every``
        updates (updates ``eval_every * (i + 1)``, see :attr:`Train.eval_updates`).
      accuracy_curve: ``(n_evals,)``, the accuracy after each block.
      params: the final parameters, where they are evaluated (for RMSprop-Nesterov the seed's
        ``P``, not the look-ahead point). A sweep keeps only the per-seed numbers and the
        curves, so XLA never materializes them there.
    """

    converged: Array
    first_converged_update: Array
    stayed_converged: Array
    bad_accuracy: Array
    accuracy: Array
    final_loss: Array
    diverged: Array
    diverged_step: Array
    loss_curve: Array
    accuracy_curve: Array
    params: Any


class TrainKeys(NamedTuple):
    """The keys one training run derives from its key: initial parameters, training data and
    test data (in this order of :func:`jax.random.split`)."""

    init: Array
    data: Array
    test: Array


def train_keys(key: Array) -> TrainKeys:
    """Splits a run's key as :func:`make_train`'s ``train`` does, so that a script can rebuild
    a seed's initial parameters or data."""
    return TrainKeys(*jax.random.split(key, 3))


def _all_finite(tree) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _computed_from(key: Array, tree):
    """``tree``, unchanged, as a function of ``key``.

    Under ``vmap`` over keys every leaf is then batched from the start, so ``lax.scan``'s
    batching rule batches the training loop's body once; from an unbatched start (a zero
    optimizer state, the ``diverged`` flag) it batches it again once it finds the carry batched,
    and the nested loop four times (0.4 s of tracing, about a quarter of it). XLA folds the
    ``& 0`` and ``+ 0`` away.
    """
    zero = jax.random.key_data(key).ravel()[0] & 0

    def tie(a):
        return a | zero.astype(bool) if a.dtype == jnp.bool_ else a + zero.astype(a.dtype)

    return jax.tree.map(tie, tree)


def guarded_update(opt, value_and_grad, carry, step, *batch):
    """One optimizer step that is not applied when the loss, gradient or result is non-finite.

    ``carry = (params, opt_state, diverged, diverged_step)``; once diverged, a run stays frozen
    at its last finite parameters. Returns ``(carry, loss)``.
    """
    params, opt_state, diverged, diverged_step = carry
    loss, grads = value_and_grad(params, *batch)
    updates, new_state = opt.update(grads, opt_state, params, value=loss)
    new_params = optax.apply_updates(params, updates)
    ok = jnp.isfinite(loss) & _all_finite(grads) & _all_finite(new_params) & ~diverged
    keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
    newly = ~ok & ~diverged
    carry = (
        keep(new_params, params),
        keep(new_state, opt_state),
        diverged | newly,
        jnp.where(newly, step, diverged_step),
    )
    return carry, loss


def fit(loss_fn: Callable, params, optimizer, steps: int, *batch):
    """Full-batch training for ``steps`` updates with the divergence guard; jit it yourself.

    Returns ``(params, history)`` where ``history`` holds ``loss`` (``(steps,)``, the loss at
    each update's starting point, ``inf`` where non-finite), ``params`` (the path, each leaf
    ``(steps + 1, ...)``), ``diverged`` and ``diverged_step``.
    """
    checks.check_positive_int("steps", steps)
    value_and_grad = jax.value_and_grad(loss_fn)

    def step(carry, i):
        carry, loss = guarded_update(optimizer, value_and_grad, carry, i, *batch)
        return carry, (jnp.where(jnp.isfinite(loss), loss, jnp.inf), carry[0])

    carry0 = (params, optimizer.init(params), jnp.array(False), jnp.array(-1, jnp.int32))
    carry, (losses, path) = jax.lax.scan(step, carry0, jnp.arange(steps, dtype=jnp.int32))
    path = jax.tree.map(lambda p0, p: jnp.concatenate([p0[None], p]), params, path)
    history = {"loss": losses, "params": path, "diverged": carry[2], "diverged_step": carry[3]}
    return carry[0], history


class _Reads(Mapping):
    """The hyperparameters as a factory sees them while :class:`Train` probes which keys it
    reads: known keys give their (traced) values, unknown keys a traced stand-in."""

    def __init__(self, values: Mapping[str, Any], stand_in):
        self._values, self._stand_in, self.read = values, stand_in, set()

    def __getitem__(self, key):
        self.read.add(key)
        return self._values.get(key, self._stand_in)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _refuse_unknown(given, read, optimizer: Optimizer, task: Task) -> None:
    """A hyperparameter that nothing reads is a typo: one line naming what is read."""
    unknown = sorted(set(given) - set(read))
    if unknown:
        raise ValueError(
            f"hparams {unknown} are read by neither the optimizer {optimizer.name!r} nor the "
            f"task {task.name!r}; they read {sorted(read)}"
        )


def _read_hparams(config: TrainConfig, task: Task, opt: Optimizer, dtype) -> dict[str, float]:
    """Which hyperparameters the optimizer's factory and the task's ``init`` read (found by
    calling them on traced stand-ins: nothing compiles), each with its default value."""
    defaults = {**task.hparams, **opt.hparams}
    names = sorted(set(defaults) | set(config.hparams))
    spec = {k: jax.ShapeDtypeStruct((), dtype) for k in [*names, "\0"]}
    reads = {}

    def probe_optimizer(hp):
        reads["optimizer"] = r = _Reads(hp, hp["\0"])
        try:
            made = opt.factory(r)
        except Exception as e:  # noqa: BLE001 - a user factory: report, one line
            raise ValueError(
                f"optimizer {opt.name!r}: its factory failed: {_one_line(e)}"
            ) from None
        if not isinstance(made, optax.GradientTransformation):
            raise TypeError(
                f"optimizer {opt.name!r}: its factory must return an "
                f"optax.GradientTransformation, got {type(made).__name__}"
            )
        return 0

    def probe_task(hp):
        reads["task"] = r = _Reads(hp, hp["\0"])
        try:
            return task.init(jax.random.key(0), r)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"task {task.name!r}: init failed: {_one_line(e)}") from None

    jax.eval_shape(probe_optimizer, spec)
    jax.eval_shape(probe_task, spec)
    read = reads["optimizer"].read | reads["task"].read
    _refuse_unknown(config.hparams, read, opt, task)
    missing = sorted(read - set(defaults) - set(config.hparams))
    if missing:
        raise ValueError(
            f"the optimizer {opt.name!r} or the task {task.name!r} reads {missing} but no "
            "value is given: --hparams KEY VALUE on the command line, TrainConfig(hparams={...}) "
            "or Optimizer(hparams={...}) in Python"
        )
    return {k: float(config.hparams.get(k, defaults.get(k))) for k in sorted(read)}


def _param_shapes(task: Task, hparams: Mapping[str, float], dtype):
    """The shapes of the task's parameters, checked: a pytree of float arrays of ``dtype``."""
    spec = {k: jax.ShapeDtypeStruct((), dtype) for k in hparams}
    params = jax.eval_shape(lambda hp: task.init(jax.random.key(0), hp), spec)
    leaves = jax.tree.leaves(params)
    if not leaves or any(not jnp.issubdtype(p.dtype, jnp.floating) for p in leaves):
        raise TypeError(f"task {task.name!r}: init must return a pytree of float arrays")
    got = {p.dtype for p in leaves}
    if got != {dtype}:
        raise TypeError(
            f"dtype {dtype} was asked for, but task {task.name!r} makes parameters "
            f"of dtype {sorted(str(d) for d in got)}"
        )
    return params


def _data_shapes(task: Task):
    """The shapes of the training set and the test set, checked: ``(xs, ts)`` with one
    leading sample axis."""
    key = jax.random.key(0)
    try:
        xs, ts = jax.eval_shape(task.data, key)
        test = jax.eval_shape(task.test_data, key)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"task {task.name!r}: data failed: {_one_line(e)}") from None
    if not xs.shape or not ts.shape or xs.shape[0] != ts.shape[0]:
        raise ValueError(
            f"task {task.name!r}: data must return (xs, ts) with one leading sample axis, "
            f"got shapes {xs.shape} and {ts.shape}"
        )
    return xs, ts, test


def _check_batches(config: TrainConfig, n: int) -> int:
    """Minibatches per epoch: ``batch_size`` must divide the ``n`` training samples."""
    if config.batch_size > n:
        raise ValueError(f"batch_size ({config.batch_size}) must be <= the {n} training samples")
    if n % config.batch_size:
        raise ValueError(
            f"batch_size ({config.batch_size}) must divide the {n} training samples "
            f"(else {n % config.batch_size} would be dropped every epoch)"
        )
    return n // config.batch_size


def _check_loss(task: Task, params, xs, ts, batch_size: int) -> None:
    """The loss fits the model and one minibatch and returns a scalar (a cell/task mismatch
    shows here)."""

    def probe_loss(params, xs, ts):
        batch = lambda a: a[:batch_size][None]  # noqa: E731
        xb, tb = task.layout(batch(xs), batch(ts))
        return task.loss(params, xb[0], tb[0])

    try:
        out = jax.eval_shape(probe_loss, params, xs, ts)
    except Exception as e:  # noqa: BLE001
        raise ValueError(
            f"task {task.name!r}: loss failed on a minibatch: {_one_line(e)}"
        ) from None
    if out.shape != ():
        raise ValueError(f"task {task.name!r}: loss must return a scalar, got shape {out.shape}")


def _check_representable(name: str, value: float, dtype) -> None:
    """A hyperparameter is used in the run's dtype: refuses a value that overflows it or that
    is nonzero but below its smallest normal number (XLA flushes those to zero)."""
    info = np.finfo(dtype)
    if abs(value) > float(info.max):
        raise ValueError(f"{name} = {value:g} overflows {info.dtype} (largest {info.max:.3g})")
    if value != 0 and abs(value) < float(info.tiny):
        raise ValueError(
            f"{name} = {value:g} is below the smallest normal {info.dtype} ({info.tiny:.3g}): "
            "it would compute as 0"
        )


def _check_sizes_used(config: TrainConfig) -> None:
    """A task object or factory reads none of the seed tasks' sizes (:data:`SIZES`): one set
    to anything but its default would be silently ignored, so it is refused."""
    if isinstance(config.task, str) and not imports.is_import_string(config.task):
        return
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    changed = [k for k in SIZES if getattr(config, k) != defaults[k]]
    if changed:
        raise ValueError(
            f"TrainConfig sets {changed}, which only the named tasks {sorted(TASKS)} read; "
            "your task takes its own (e.g. rnn_jax.sequence_task(hidden=..., init=...))"
        )


def _check_accuracy(task: Task, params, test) -> None:
    """The accuracy is one number per run (a fraction of test items right), known before any
    seed trains."""
    try:
        out = jax.eval_shape(task.accuracy, params, test)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"task {task.name!r}: accuracy failed: {_one_line(e)}") from None
    if not hasattr(out, "shape") or out.shape != ():
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            f"task {task.name!r}: accuracy must return a scalar (the fraction of test items "
            f"right, in [0, 1]), got shape {shape}"
        )
    if not (jnp.issubdtype(out.dtype, jnp.floating) or out.dtype == jnp.bool_):
        raise TypeError(f"task {task.name!r}: accuracy must be a float in [0, 1], got {out.dtype}")


def _nbytes(tree) -> int:
    return sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in jax.tree.leaves(tree))


class Train:
    """One training run as a pure function of a key: ``train(key, hparams=None) -> Outcome``.

    Made by :func:`make_train`, which checks everything it can before any compile. Call it
    under ``jax.jit``/``jax.vmap`` (a seed sweep is ``jax.vmap(train)(keys)``), or give it to
    :func:`rnn_jax.runs.run_sweep`.

    Attributes:
      config: the :class:`TrainConfig`.
      task: the :class:`rnn_jax.Task` trained.
      optimizer: the :class:`rnn_jax.Optimizer` it trains with.
      hparams: every hyperparameter the optimizer and the task read, with the value a run
        uses when ``hparams`` does not override it.
      dtype: the floating dtype of the parameters (``config.dtype``, checked).
      n_train, batch_size, batches, steps, n_evals: the training set's size, the samples per
        update, the minibatches per epoch, the number of updates and of evaluations.
      eval_updates: ``(n_evals,)``, the update count after each evaluation.
      param_bytes, data_bytes: the size of one seed's parameters and of its data.
    """

    def __init__(self, config: TrainConfig):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be an rnn_jax.TrainConfig, got {type(config).__name__}")
        self.config = config
        self.optimizer = as_optimizer(config.optimizer)
        self.task = as_task(config.task, config)
        _check_sizes_used(config)
        self.dtype = jnp.dtype(config.dtype)
        with self.precision():
            self.hparams = _read_hparams(config, self.task, self.optimizer, self.dtype)
            self.check_hparams(self.hparams)
            params = _param_shapes(self.task, self.hparams, self.dtype)
            xs, ts, test = _data_shapes(self.task)
            self.n_train = xs.shape[0]
            self.batches = _check_batches(config, self.n_train)
            self.batch_size = self.n_train if self.optimizer.full_batch else config.batch_size
            self.steps = config.epochs * self.batches
            if self.steps % config.eval_every:
                raise ValueError(
                    f"eval_every ({config.eval_every}) must divide the number of updates "
                    f"({self.steps} = epochs * (n_train // batch_size))"
                )
            self.n_evals = self.steps // config.eval_every
            self.eval_updates = config.eval_every * np.arange(1, self.n_evals + 1)
            self.param_bytes = _nbytes(params)
            self.data_bytes = _nbytes((xs, ts, test))
            _check_loss(self.task, params, xs, ts, self.batch_size)
            _check_accuracy(self.task, params, test)

    def precision(self):
        """A context in which this run's dtype is available: ``jax.enable_x64`` on for
        float64, off for float32 (so a float32 run never depends on the global setting).
        :func:`rnn_jax.runs.run_sweep` enters it for you; call ``train`` directly inside it."""
        return jax.enable_x64(self.dtype == jnp.float64)

    def check_hparams(self, hparams: Mapping[str, Any]) -> dict[str, float]:
        """Every hyperparameter's value for a run that overrides ``hparams`` (concrete numbers,
        or arrays of them for a grid); raises ``ValueError`` naming a key that nothing reads or
        a value that is not finite or out of range (learning_rate > 0, momentum, decay, b1 and
        b2 in [0, 1), eps > 0, ...)."""
        _refuse_unknown(hparams, self.hparams, self.optimizer, self.task)
        full = {**self.hparams, **hparams}
        for k, v in full.items():
            rng = self.optimizer.ranges.get(k, HPARAM_RANGES.get(k, Range()))
            for x in np.ravel(np.asarray(v, dtype=float)):
                rng.check(k, float(x))
                _check_representable(k, float(x), self.dtype)
        return full

    # ------------------------------------------------------------------ the run

    def __call__(self, key: Array, hparams: Mapping[str, Any] | None = None) -> Outcome:
        """Trains one seed from ``key``; ``hparams`` overrides :attr:`hparams` (traced values
        are fine: that is how a grid avoids recompiling)."""
        config, task = self.config, self.task
        if self.dtype == jnp.float64 and not jax.config.jax_enable_x64:
            raise RuntimeError(
                "this run is float64 but jax_enable_x64 is off: call it inside "
                "`with train.precision():` (rnn_jax.run_sweep does)"
            )
        _refuse_unknown(hparams or {}, self.hparams, self.optimizer, self.task)
        hp = {k: jnp.asarray(v, self.dtype) for k, v in {**self.hparams, **(hparams or {})}.items()}
        k_init, k_data, k_test = train_keys(key)
        # The optimizer and the divergence guard see the parameters as one flat vector: every
        # optimizer here is elementwise, so the numbers are the same, and each of their steps
        # is one operation instead of one per parameter array (fewer, larger XLA loops).
        params, unravel = ravel_pytree(task.init(k_init, hp))
        xs, ts = task.data(k_data)
        test = task.test_data(k_test)
        n_batches, batch = (
            (1, self.n_train) if self.optimizer.full_batch else (self.batches, self.batch_size)
        )
        # Disjoint minibatches in a fixed order (seed 002 slices without shuffling).
        xs_b, ts_b = task.layout(
            xs.reshape((n_batches, batch) + xs.shape[1:]),
            ts.reshape((n_batches, batch) + ts.shape[1:]),
        )
        opt = optax.with_extra_args_support(self.optimizer.factory(hp))
        eval_params = self.optimizer.eval_params or (lambda params, state: params)
        loss_fn = lambda p, x, t: task.loss(unravel(p), x, t)  # noqa: E731
        value_and_grad = jax.value_and_grad(loss_fn)

        def update(carry, step):
            # The minibatch travels in the loop carry, sliced one update ahead (see
            # docs/performance.md: a dynamic-slice fused into a loop stops it vectorizing).
            state, (x, t) = carry
            state, loss = guarded_update(opt, value_and_grad, state, step, x, t)
            i = (step + 1) % n_batches
            return (state, (xs_b[i], ts_b[i])), loss

        def block(carry, block_index):
            steps = block_index * config.eval_every + jnp.arange(config.eval_every, dtype=jnp.int32)
            carry, losses = jax.lax.scan(update, carry, steps)
            params, opt_state = carry[0][0], carry[0][1]
            acc = task.accuracy(unravel(eval_params(params, opt_state)), test)
            return carry, (jnp.nanmean(losses), jnp.asarray(acc, self.dtype))

        state0 = (params, opt.init(params), jnp.array(False), jnp.array(-1, jnp.int32))
        carry0 = _computed_from(key, (state0, (xs_b[0], ts_b[0])))
        carry, (curve, accs) = jax.lax.scan(
            block, carry0, jnp.arange(self.n_evals, dtype=jnp.int32)
        )
        params, opt_state, diverged, diverged_step = carry[0]
        final = eval_params(params, opt_state)
        valid = jnp.isfinite(accs) & (accs >= 0) & (accs <= 1)
        solved = valid & (accs >= task.criterion)
        ever, first = jnp.any(solved), jnp.argmax(solved)
        since = jnp.arange(self.n_evals) >= first
        return Outcome(
            converged=solved[-1] & ~diverged & jnp.all(valid),
            first_converged_update=jnp.where(ever, (first + 1) * config.eval_every, -1),
            stayed_converged=ever & jnp.all(solved | ~since) & ~diverged,
            bad_accuracy=~jnp.all(valid),
            accuracy=accs[-1],
            final_loss=loss_fn(final, *task.layout(xs, ts)),
            diverged=diverged,
            diverged_step=diverged_step,
            loss_curve=curve,
            accuracy_curve=accs,
            params=unravel(final),
        )


def make_train(config: TrainConfig) -> Train:
    """The training run ``config`` describes, as ``train(key, hparams=None) -> Outcome``.

    Resolves the task and optimizer (names or your own objects), finds which hyperparameters
    they read and checks every value, the data's and the loss's shapes and the parameters'
    dtype, all before anything compiles; each problem is a one-line ``ValueError`` or
    ``TypeError`` naming what is wrong.

    Example:
      >>> import jax, rnn_jax as rj
      >>> train = rj.make_train(rj.TrainConfig(optimizer="adam", n_train=200, epochs=2,
      ...                                      eval_every=4, bits=3))
      >>> train.hparams
      {'b1': 0.9, 'b2': 0.999, 'eps': 1e-08, 'init_scale': 1.0, 'learning_rate': 0.1}
      >>> keys = jax.random.split(jax.random.key(0), 8)
      >>> outcomes = jax.jit(jax.vmap(train))(keys)
      >>> outcomes.accuracy.shape, outcomes.loss_curve.shape
      ((8,), (8, 1))
    """
    return Train(config)
