"""rnn_jax: small recurrent networks in JAX, their hand-written BPTT, Rprop and
RMSprop-Nesterov as optax transformations, and convergence studies over many seeds.

The top level is the pure core a study is written with: :func:`unroll` and :func:`bptt`, the
optimizer transformations, :class:`Task` and :class:`Optimizer` with their registries,
:func:`make_train`. Families live in namespaces: :mod:`rnn_jax.cells`, :mod:`rnn_jax.tasks`
(the seed tasks), :mod:`rnn_jax.datasets`, :mod:`rnn_jax.models`, :mod:`rnn_jax.losses`,
:mod:`rnn_jax.stats`, :mod:`rnn_jax.reference`. Everything with side effects (sweeps, results
folders, processes, the cache, figures, the command line) is in :mod:`rnn_jax.runs`. Each name
has one public path; the implementations live in a private package.
"""

from rnn_jax import cells as cells
from rnn_jax import datasets as datasets
from rnn_jax import losses as losses
from rnn_jax import models as models
from rnn_jax import reference as reference
from rnn_jax import runs as runs
from rnn_jax import stats as stats
from rnn_jax import tasks as tasks
from rnn_jax._src.bptt import BPTTGrads as BPTTGrads
from rnn_jax._src.bptt import bptt as bptt
from rnn_jax._src.gradcheck import check_grad as check_grad
from rnn_jax._src.gradcheck import numerical_grad as numerical_grad
from rnn_jax._src.gradcheck import relative_error as relative_error
from rnn_jax._src.optimizers import OPTIMIZERS as OPTIMIZERS
from rnn_jax._src.optimizers import Optimizer as Optimizer
from rnn_jax._src.tasks import TASKS as TASKS
from rnn_jax._src.tasks import Task as Task
from rnn_jax._src.tasks import sequence_task as sequence_task
from rnn_jax._src.train import Outcome as Outcome
from rnn_jax._src.train import TrainConfig as TrainConfig
from rnn_jax._src.train import TrainKeys as TrainKeys
from rnn_jax._src.train import fit as fit
from rnn_jax._src.train import make_train as make_train
from rnn_jax._src.train import train_keys as train_keys
from rnn_jax._src.transforms import RPROP_VARIANTS as RPROP_VARIANTS
from rnn_jax._src.transforms import RmspropNesterovState as RmspropNesterovState
from rnn_jax._src.transforms import ScaleByRpropState as ScaleByRpropState
from rnn_jax._src.transforms import rmsprop_nesterov as rmsprop_nesterov
from rnn_jax._src.transforms import rmsprop_nesterov_params as rmsprop_nesterov_params
from rnn_jax._src.transforms import rprop as rprop
from rnn_jax._src.transforms import scale_by_rprop as scale_by_rprop
from rnn_jax._src.unroll import unroll as unroll

__version__ = "0.1.0"

__all__ = [
    "BPTTGrads",
    "OPTIMIZERS",
    "Optimizer",
    "Outcome",
    "RPROP_VARIANTS",
    "RmspropNesterovState",
    "ScaleByRpropState",
    "TASKS",
    "Task",
    "TrainConfig",
    "TrainKeys",
    "bptt",
    "cells",
    "check_grad",
    "datasets",
    "fit",
    "losses",
    "make_train",
    "models",
    "numerical_grad",
    "reference",
    "relative_error",
    "rmsprop_nesterov",
    "rmsprop_nesterov_params",
    "rprop",
    "runs",
    "scale_by_rprop",
    "sequence_task",
    "stats",
    "tasks",
    "train_keys",
    "unroll",
]
