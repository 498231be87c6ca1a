"""rnn_jax: small recurrent networks in JAX, their hand-written BPTT, Rprop and
RMSprop-Nesterov as optax transformations, and convergence studies over many seeds.

Public modules: :mod:`rnn_jax.cells`, :mod:`rnn_jax.models`, :mod:`rnn_jax.datasets`,
:mod:`rnn_jax.tasks`, :mod:`rnn_jax.losses`, :mod:`rnn_jax.stats`, :mod:`rnn_jax.plots`,
:mod:`rnn_jax.io`, :mod:`rnn_jax.cli`, :mod:`rnn_jax.reference`, :mod:`rnn_jax.sweep`
(sweeps, also over several processes: :func:`rnn_jax.sweep.initialize`). Everything else is
re-exported here; the implementations live in the private package ``rnn_jax._src``.
"""

from rnn_jax import cells as cells
from rnn_jax import cli as cli
from rnn_jax import datasets as datasets
from rnn_jax import io as io
from rnn_jax import losses as losses
from rnn_jax import models as models
from rnn_jax import plots as plots
from rnn_jax import reference as reference
from rnn_jax import stats as stats
from rnn_jax import sweep as sweep
from rnn_jax import tasks as tasks
from rnn_jax._src.bptt import BPTTGrads as BPTTGrads
from rnn_jax._src.bptt import bptt as bptt
from rnn_jax._src.cells import CELLS as CELLS
from rnn_jax._src.cells import Cell as Cell
from rnn_jax._src.gradcheck import check_grad as check_grad
from rnn_jax._src.gradcheck import numerical_grad as numerical_grad
from rnn_jax._src.gradcheck import relative_error as relative_error
from rnn_jax._src.optim import RPROP_VARIANTS as RPROP_VARIANTS
from rnn_jax._src.optim import RmspropNesterovState as RmspropNesterovState
from rnn_jax._src.optim import ScaleByRpropState as ScaleByRpropState
from rnn_jax._src.optim import rmsprop_nesterov as rmsprop_nesterov
from rnn_jax._src.optim import rmsprop_nesterov_params as rmsprop_nesterov_params
from rnn_jax._src.optim import rprop as rprop
from rnn_jax._src.optim import scale_by_rprop as scale_by_rprop
from rnn_jax._src.optimizers import OPTIMIZERS as OPTIMIZERS
from rnn_jax._src.optimizers import Optimizer as Optimizer
from rnn_jax._src.sweep import Sweep as Sweep
from rnn_jax._src.sweep import SweepResult as SweepResult
from rnn_jax._src.sweep import grid_points as grid_points
from rnn_jax._src.sweep import load_sweep as load_sweep
from rnn_jax._src.sweep import run_grid as run_grid
from rnn_jax._src.sweep import run_sweep as run_sweep
from rnn_jax._src.sweep import seed_keys as seed_keys
from rnn_jax._src.sweep import use_cpu_cores as use_cpu_cores
from rnn_jax._src.tasks import TASKS as TASKS
from rnn_jax._src.tasks import Task as Task
from rnn_jax._src.train import Outcome as Outcome
from rnn_jax._src.train import Train as Train
from rnn_jax._src.train import TrainConfig as TrainConfig
from rnn_jax._src.train import TrainKeys as TrainKeys
from rnn_jax._src.train import fit as fit
from rnn_jax._src.train import make_train as make_train
from rnn_jax._src.train import train_keys as train_keys
from rnn_jax._src.unroll import unroll as unroll

__version__ = "0.1.0"

__all__ = [
    "BPTTGrads",
    "CELLS",
    "Cell",
    "OPTIMIZERS",
    "Optimizer",
    "Outcome",
    "RPROP_VARIANTS",
    "RmspropNesterovState",
    "ScaleByRpropState",
    "Sweep",
    "SweepResult",
    "TASKS",
    "Task",
    "Train",
    "TrainConfig",
    "TrainKeys",
    "bptt",
    "cells",
    "check_grad",
    "cli",
    "datasets",
    "fit",
    "grid_points",
    "io",
    "load_sweep",
    "losses",
    "make_train",
    "models",
    "numerical_grad",
    "plots",
    "reference",
    "relative_error",
    "rmsprop_nesterov",
    "rmsprop_nesterov_params",
    "rprop",
    "run_grid",
    "run_sweep",
    "scale_by_rprop",
    "seed_keys",
    "stats",
    "tasks",
    "train_keys",
    "unroll",
    "use_cpu_cores",
]
