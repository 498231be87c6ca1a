"""``make_train(config) -> train(key, hparams)``: one pure, jittable training run per key.

``train`` builds its data and initial parameters from the key, trains with a ``lax.scan`` over
updates, and returns an :class:`Outcome`. ``jax.vmap(train)(keys)`` is a seed sweep; swept
hyperparameters (learning rate, momentum, ...) are traced arguments in ``hparams``, so a grid
is nested ``vmap``s, not recompiles (PureJaxRL's pattern).

Divergence: an update whose loss or gradient is not finite is not applied; the run is frozen at
its last finite parameters, flagged ``diverged`` with the step, and never poisons statistics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from rnn_jax._src import checks, datasets, models, optim
from rnn_jax._src.scan import BACKWARDS

Array = jax.Array

TASKS = ("binary_addition", "counting_ones", "next_number")
RPROP_OPTIMIZERS = {
    "rprop_seed": "seed",
    "rprop-": "rprop-",
    "irprop-": "irprop-",
    "rprop+": "rprop+",
    "irprop+": "irprop+",
}
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "rmsprop_nesterov", *RPROP_OPTIMIZERS)
#: Learning rates for the seed-002 adder (100 updates): each the best of a 200-seed grid on base
#: seed 0 (README, "How often does seed 002's adder converge?"); the seed's own for
#: rmsprop_nesterov. Rprop's "learning rate" is its initial step Δ0.
TUNED_LEARNING_RATES = {
    "rmsprop_nesterov": 0.05,
    "rmsprop": 0.1,
    "adam": 0.1,
    "momentum": 1.0,
    "sgd": 3.0,
}
#: Hyperparameters that may be traced (vmapped over); the rest of the config is static.
HPARAMS = ("learning_rate", "momentum", "decay")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything static about a training run. Derived sizes are properties, not fields.

    Defaults are seed 002's: 2000 pairs of 6-bit numbers, 3 states, RMSprop + Nesterov
    (λ = 0.5, lr = 0.05, μ = 0.8, ε = 1e-6), minibatches of 100, 5 epochs = 100 updates.
    Rprop optimizers always use the full batch (Rprop's sign logic needs exact gradients) for the
    same number of updates.
    """

    task: str = "binary_addition"
    optimizer: str = "rmsprop_nesterov"
    hidden: int = 3
    learning_rate: float = 0.05
    momentum: float = 0.8
    decay: float = 0.5
    eps: float = 1e-6
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
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.backward not in BACKWARDS:
            raise ValueError(f"backward must be one of {BACKWARDS}, got {self.backward!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        positive = ("hidden", "n_train", "batch_size", "epochs", "length", "n_test", "eval_every")
        for name in (*positive, "scan_unroll"):
            checks.check_positive_int(name, getattr(self, name))
        datasets.check_bits(self.bits, enumerated=True)
        if self.batch_size > self.n_train:
            raise ValueError(f"batch_size ({self.batch_size}) must be <= n_train ({self.n_train})")
        checks.check_range("learning_rate", self.learning_rate, low=0, low_open=True)
        checks.check_range("momentum", self.momentum, low=0, high=1, high_open=True)
        checks.check_range("decay", self.decay, low=0, high=1, high_open=True)
        checks.check_range("eps", self.eps, low=0, low_open=True)
        if self.steps % self.eval_every:
            raise ValueError(
                f"eval_every ({self.eval_every}) must divide the number of updates "
                f"({self.steps} = epochs * (n_train // batch_size))"
            )

    @property
    def batches_per_epoch(self) -> int:
        return self.n_train // self.batch_size

    @property
    def steps(self) -> int:
        """Number of updates."""
        return self.epochs * self.batches_per_epoch

    @property
    def full_batch(self) -> bool:
        return self.optimizer in RPROP_OPTIMIZERS

    def hparams(self) -> dict[str, float]:
        """The traced hyperparameters with this config's values."""
        return {k: getattr(self, k) for k in HPARAMS}


class Outcome(NamedTuple):
    """Per-seed result of :func:`make_train`'s ``train``.

    ``converged``: the task's criterion holds at the end (binary addition: all ``4**bits``
    pairs exact; counting: every test sequence rounds to its count; next number: 100% on
    held-out sequences) and the run did not diverge. ``steps_to_converge``: first evaluated
    update count at which it held
    (-1 if never). ``accuracy``: final fraction of test items exactly right. ``final_loss``: the
    training loss at the final parameters. ``diverged``/``diverged_step``: a non-finite loss or
    gradient was met at that update (-1 if never). ``loss_curve``: mean training loss over each
    block of ``eval_every`` updates. ``params``: the final parameters, where they are evaluated
    (for RMSprop-Nesterov the seed's ``P``, not the look-ahead point); a sweep keeps only the
    per-seed numbers (:data:`TABLE_FIELDS`), so XLA never materializes them there.
    """

    converged: Array
    steps_to_converge: Array
    accuracy: Array
    final_loss: Array
    diverged: Array
    diverged_step: Array
    loss_curve: Array
    params: Any


#: The per-seed numbers of an :class:`Outcome`: the columns of a sweep's table.
TABLE_FIELDS = tuple(f for f in Outcome._fields if f not in ("loss_curve", "params"))


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


def _same_layout(xs, ts):
    return xs, ts


def _feature_major(xs, ts):
    """Batch-major ``(..., B, T, F)`` inputs and ``(..., B, T)`` targets -> ``(..., T, F, B)``
    and ``(..., T, B)``: the layout the models compute in (``layout="TFB"``)."""
    return jnp.moveaxis(xs, -3, -1), jnp.swapaxes(ts, -1, -2)


class Task(NamedTuple):
    """``data`` gives batch-major ``(xs, ts)``; ``layout`` rearranges stacks of them once per
    run (leading axes kept) into what ``loss`` takes. ``test_data`` gives what ``accuracy``
    takes."""

    init: Callable[[Array], Any]
    data: Callable[[Array], tuple[Array, Array]]
    test_data: Callable[[Array], tuple[Any, Any]]
    loss: Callable[..., Array]
    accuracy: Callable[[Any, Array, Array], Array]
    layout: Callable[[Array, Array], tuple[Array, Array]] = _same_layout


def make_task(config: TrainConfig) -> Task:
    """The model, data and criterion of ``config.task``."""
    dtype = jnp.dtype(config.dtype)
    if config.task == "binary_addition":
        return Task(
            init=lambda key: models.adder_init(key, config.hidden, dtype),
            data=lambda key: datasets.binary_addition(key, config.n_train, config.bits, dtype),
            # All 4**bits pairs, as a prefix tree (each distinct prefix evaluated once).
            test_data=lambda key: datasets.addition_prefix_tree(config.bits, dtype),
            loss=lambda p, x, t, *, backward: models.adder_loss(
                p, x, t, backward=backward, layout="TFB", scan_unroll=config.scan_unroll
            ),
            accuracy=lambda params, xs, ts: models.adder_tree_accuracy(params, (xs, ts)),
            layout=_feature_major,
        )
    if config.task == "counting_ones":

        def init(key):
            w = jax.random.uniform(key, (2,), dtype, -2.0, 2.0)
            return models.counter_init(w[0], w[1], dtype)

        def accuracy(params, xs, ts):
            out = models.counter_apply(params, xs, scan_unroll=config.scan_unroll)
            return jnp.mean((jnp.round(out) == ts).astype(dtype))

        return Task(
            init=init,
            data=lambda key: datasets.counting_ones(key, config.n_train, config.length, dtype),
            test_data=lambda key: datasets.counting_ones(key, config.n_test, config.length, dtype),
            loss=lambda p, x, t, *, backward: models.counter_loss(
                p, x, t, backward=backward, scan_unroll=config.scan_unroll
            ),
            accuracy=accuracy,
        )
    # next_number

    def accuracy(params, xs, ts):
        logits = models.tagger_apply(params, xs, scan_unroll=config.scan_unroll)
        pred = jnp.argmax(logits, axis=-1).astype(ts.dtype)
        return jnp.mean((pred == ts).astype(dtype))

    def loss(params, xs, ts, *, backward):
        return models.tagger_loss(
            params, xs, ts, backward=backward, reduction="mean", scan_unroll=config.scan_unroll
        )

    return Task(
        init=lambda key: models.tagger_init(key, 3, config.hidden, dtype=dtype),
        data=lambda key: datasets.next_number(key, config.n_train, config.length),
        test_data=lambda key: datasets.next_number(key, config.n_test, config.length),
        loss=loss,
        accuracy=accuracy,
    )


def make_optimizer(config: TrainConfig, hparams: dict[str, Any]) -> optax.GradientTransformation:
    """The optimizer named in ``config``, with (possibly traced) ``hparams``."""
    lr, mu, decay = hparams["learning_rate"], hparams["momentum"], hparams["decay"]
    name = config.optimizer
    if name == "sgd":
        return optax.sgd(lr)
    if name == "momentum":
        return optax.sgd(lr, momentum=mu)
    if name == "adam":
        return optax.adam(lr)
    if name == "rmsprop":
        return optax.rmsprop(lr, decay=decay, eps=config.eps, eps_in_sqrt=True)
    if name == "rmsprop_nesterov":
        return optim.rmsprop_nesterov(lr, decay=decay, eps=config.eps, momentum=mu)
    return optim.rprop(lr, variant=RPROP_OPTIMIZERS[name])


def eval_params(config: TrainConfig, params, opt_state):
    """Parameters to evaluate: for RMSprop-Nesterov the seed's ``P``, not the look-ahead."""
    if config.optimizer == "rmsprop_nesterov":
        return optim.rmsprop_nesterov_params(params, opt_state)
    return params


def _all_finite(tree) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


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


def make_train(config: TrainConfig):
    """Returns ``train(key, hparams=None) -> Outcome``, pure and jittable; ``hparams``
    overrides :data:`HPARAMS` (traced)."""
    task = make_task(config)
    n_batches = 1 if config.full_batch else config.batches_per_epoch
    batch = config.n_train if config.full_batch else config.batch_size
    n_evals = config.steps // config.eval_every

    def train(key: Array, hparams: dict[str, Any] | None = None):
        hp = config.hparams()
        if hparams:
            unknown = set(hparams) - set(HPARAMS)
            if unknown:
                raise ValueError(f"hparams may only hold {HPARAMS}, got {sorted(unknown)}")
            hp.update(hparams)
        k_init, k_data, k_test = train_keys(key)
        # The optimizer and the divergence guard see the parameters as one flat vector: every
        # optimizer here is elementwise, so the numbers are the same, and each of their steps
        # is one operation instead of one per parameter array (fewer, larger XLA loops).
        params, unravel = ravel_pytree(task.init(k_init))
        xs, ts = task.data(k_data)
        xs_test, ts_test = task.test_data(k_test)
        # Disjoint minibatches in a fixed order (seed 002 slices without shuffling).
        xs_b, ts_b = task.layout(
            xs[: n_batches * batch].reshape((n_batches, batch) + xs.shape[1:]),
            ts[: n_batches * batch].reshape((n_batches, batch) + ts.shape[1:]),
        )
        opt = make_optimizer(config, hp)
        loss_fn = lambda p, x, t: task.loss(unravel(p), x, t, backward=config.backward)  # noqa: E731
        value_and_grad = jax.value_and_grad(loss_fn)

        def update(carry, step):
            # The minibatch travels in the loop carry, sliced one update ahead: XLA:CPU fuses
            # a dynamic-slice into every consumer and re-reads its index per element, which
            # stops the loops vectorizing (2x slower); a carried array is a plain buffer.
            state, (x, t) = carry
            state, loss = guarded_update(opt, value_and_grad, state, step, x, t)
            i = (step + 1) % n_batches
            return (state, (xs_b[i], ts_b[i])), loss

        def block(carry, block_index):
            steps = block_index * config.eval_every + jnp.arange(config.eval_every, dtype=jnp.int32)
            carry, losses = jax.lax.scan(update, carry, steps)
            params, opt_state = carry[0][0], carry[0][1]
            acc = task.accuracy(unravel(eval_params(config, params, opt_state)), xs_test, ts_test)
            return carry, (jnp.nanmean(losses), acc)

        state0 = (params, opt.init(params), jnp.array(False), jnp.array(-1, jnp.int32))
        carry0 = (state0, (xs_b[0], ts_b[0]))
        carry, (curve, accs) = jax.lax.scan(block, carry0, jnp.arange(n_evals, dtype=jnp.int32))
        params, opt_state, diverged, diverged_step = carry[0]
        final = eval_params(config, params, opt_state)
        solved = accs >= 1.0
        first = jnp.argmax(solved)
        outcome = Outcome(
            converged=solved[-1] & ~diverged,
            steps_to_converge=jnp.where(jnp.any(solved), (first + 1) * config.eval_every, -1),
            accuracy=accs[-1],
            final_loss=loss_fn(final, *task.layout(xs, ts)),
            diverged=diverged,
            diverged_step=diverged_step,
            loss_curve=curve,
            params=unravel(final),
        )
        return outcome

    return train
