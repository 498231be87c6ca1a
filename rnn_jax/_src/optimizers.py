"""Optimizers a seed sweep trains with: factories of optax transformations from hyperparameters.

An :class:`Optimizer` is a factory ``hparams -> optax.GradientTransformation`` plus the default
values of the hyperparameters it reads. :func:`rnn_jax.make_train` calls the factory inside the
traced training function with every hyperparameter as a traced scalar, so a grid over any of
them (learning rate, momentum, Adam's ``b1``, Rprop's ``eta_plus``, ...) runs on one compiled
function. The named optimizers of :data:`OPTIMIZERS` are built the same way as yours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import optax

from rnn_jax._src import checks, imports
from rnn_jax._src.registry import Registry
from rnn_jax._src.transforms import RPROP_VARIANTS, rmsprop_nesterov, rmsprop_nesterov_params, rprop


class Range(NamedTuple):
    """Allowed values of a hyperparameter: ``low <(=) value <(=) high``."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def check(self, name: str, value) -> None:
        """Raises ``ValueError`` naming ``name`` if ``value`` is NaN, infinite or out of range."""
        checks.check_range(
            name,
            value,
            low=None if self.low == -math.inf else self.low,
            high=None if self.high == math.inf else self.high,
            low_open=self.low_open,
            high_open=self.high_open,
        )


POSITIVE = Range(0.0, low_open=True)
UNIT = Range(0.0, 1.0, high_open=True)  # [0, 1)

#: Ranges of the hyperparameters known by name; any other must be a finite number.
HPARAM_RANGES: Mapping[str, Range] = {
    "learning_rate": POSITIVE,
    "momentum": UNIT,
    "decay": UNIT,
    "b1": UNIT,
    "b2": UNIT,
    "eps": POSITIVE,
    "eta_minus": Range(0.0, 1.0, low_open=True, high_open=True),
    "eta_plus": Range(1.0, low_open=True),
    "init_scale": POSITIVE,
    "weight_decay": Range(0.0),
}


class Optimizer(NamedTuple):
    """An optimizer for :func:`rnn_jax.make_train`: a factory of optax transformations.

    Attributes:
      factory: ``hparams -> optax.GradientTransformation``. Read every hyperparameter from the
        mapping (``hparams["learning_rate"]``): they are traced scalars, so a grid over them
        does not recompile. The transformation is called as ``update(grads, state, params,
        value=loss)`` (optax's convention for transformations that need the loss, like
        iRprop+); one that takes no extra arguments is wrapped to accept them.
      hparams: default values of the hyperparameters the factory reads.
      eval_params: ``(params, opt_state) -> params``, the point to evaluate when that is not
        the parameters the optimizer holds (RMSprop-Nesterov holds the look-ahead point);
        ``None``: the parameters themselves.
      full_batch: train on the whole training set at every update (Rprop's sign logic needs
        exact gradients), for as many updates as minibatch training would take.
      ranges: allowed values of hyperparameters not in :data:`HPARAM_RANGES` (or stricter).
      name: a label for tables and a run's identity.
      identity: what tells this optimizer apart in a saved run's identity, when its factory
        captures something rnn_jax cannot describe by value (otherwise a fingerprint of its
        code and captures is recorded).

    Example:
      >>> import optax, rnn_jax as rj
      >>> lion = rj.Optimizer(
      ...     lambda hp: optax.lion(hp["learning_rate"], b1=hp["b1"]),
      ...     hparams={"learning_rate": 3e-3, "b1": 0.9},
      ...     name="lion",
      ... )
      >>> train = rj.make_train(rj.TrainConfig(optimizer=lion))
      >>> sorted(train.hparams)
      ['b1', 'init_scale', 'learning_rate']
    """

    factory: Callable[[Mapping[str, Any]], optax.GradientTransformation]
    hparams: Mapping[str, float] = {}
    eval_params: Callable[[Any, Any], Any] | None = None
    full_batch: bool = False
    ranges: Mapping[str, Range] = {}
    name: str = "custom"
    identity: Any = None


def _rprop(variant: str) -> Optimizer:
    def factory(hp):
        return rprop(hp["learning_rate"], hp["eta_minus"], hp["eta_plus"], variant=variant)

    return Optimizer(
        factory,
        {"learning_rate": 0.01, "eta_minus": 0.5, "eta_plus": 1.2},
        full_batch=True,
        name="rprop_seed" if variant == "seed" else variant,
    )


def _named(name: str, factory, hparams, **kwargs) -> Optimizer:
    return Optimizer(factory, hparams, name=name, **kwargs)


#: The named optimizers. Default learning rates are tuned for seed 002's adder (each the best
#: of a 200-seed grid on base seed 0, 100 updates; README "How often does seed 002's adder
#: converge?"); rmsprop_nesterov's are the seed's own. Rprop's learning rate is its Δ0.
OPTIMIZERS: Registry[Optimizer] = Registry(
    "optimizer",
    {
        o.name: o
        for o in (
            _named("sgd", lambda hp: optax.sgd(hp["learning_rate"]), {"learning_rate": 3.0}),
            _named(
                "momentum",
                lambda hp: optax.sgd(hp["learning_rate"], momentum=hp["momentum"]),
                {"learning_rate": 1.0, "momentum": 0.8},
            ),
            _named(
                "adam",
                lambda hp: optax.adam(hp["learning_rate"], b1=hp["b1"], b2=hp["b2"], eps=hp["eps"]),
                {"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
            ),
            _named(
                "rmsprop",
                lambda hp: optax.rmsprop(
                    hp["learning_rate"], decay=hp["decay"], eps=hp["eps"], eps_in_sqrt=True
                ),
                {"learning_rate": 0.1, "decay": 0.5, "eps": 1e-6},
            ),
            _named(
                "rmsprop_nesterov",
                lambda hp: rmsprop_nesterov(
                    hp["learning_rate"], decay=hp["decay"], eps=hp["eps"], momentum=hp["momentum"]
                ),
                {"learning_rate": 0.05, "decay": 0.5, "eps": 1e-6, "momentum": 0.8},
                eval_params=rmsprop_nesterov_params,
            ),
            *(_rprop(v) for v in RPROP_VARIANTS),
        )
    },
)


def from_optax(name: str) -> Optimizer:
    """Any optax alias as an :class:`Optimizer`: every number its signature takes is a traced
    hyperparameter with the alias's default (``learning_rate`` has none: give it).

    Example:
      >>> from rnn_jax._src.optimizers import from_optax
      >>> sorted(from_optax("lion").hparams)
      ['b1', 'b2', 'weight_decay']
    """
    alias, hparams = imports.optax_alias(name)
    names = tuple(hparams)

    def factory(hp):
        return alias(**{k: hp[k] for k in names})

    defaults = {k: v for k, v in hparams.items() if v is not None}
    return Optimizer(factory, defaults, name=name)


def as_optimizer(optimizer) -> Optimizer:
    """A name of :data:`OPTIMIZERS`, an import string (``"module:attribute"``, ``"optax:NAME"``),
    an :class:`Optimizer`, or a bare factory (no defaults)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if imports.is_import_string(optimizer):
        if optimizer.startswith("optax:"):
            return from_optax(optimizer.partition(":")[2])
        obj = imports.resolve(optimizer, "--optimizer")
        if isinstance(obj, Optimizer):
            return obj
        if not callable(obj):
            raise TypeError(
                f"--optimizer {optimizer!r} is a {type(obj).__name__}, not an rnn_jax.Optimizer "
                "or a factory hparams -> optax.GradientTransformation"
            )
        return Optimizer(obj, name=optimizer.rpartition(".")[2].rpartition(":")[2])
    if isinstance(optimizer, str):
        return OPTIMIZERS[optimizer]
    if callable(optimizer):
        return Optimizer(optimizer, name=getattr(optimizer, "__name__", "custom"))
    raise TypeError(
        "optimizer must be a name, an rnn_jax.Optimizer or a factory hparams -> "
        f"optax.GradientTransformation, got {type(optimizer).__name__}"
    )
