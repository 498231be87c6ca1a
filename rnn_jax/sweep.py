"""Seed sweeps: many seeds of one training, chunked, sharded over devices and processes,
saved in verified results folders."""

from rnn_jax._src.distributed import initialize as initialize
from rnn_jax._src.sweep import Sweep as Sweep
from rnn_jax._src.sweep import SweepResult as SweepResult
from rnn_jax._src.sweep import executable_bytes as executable_bytes
from rnn_jax._src.sweep import grid_points as grid_points
from rnn_jax._src.sweep import load_sweep as load_sweep
from rnn_jax._src.sweep import run_grid as run_grid
from rnn_jax._src.sweep import run_sweep as run_sweep
from rnn_jax._src.sweep import seed_keys as seed_keys
from rnn_jax._src.sweep import use_cpu_cores as use_cpu_cores

__all__ = [
    "Sweep",
    "SweepResult",
    "executable_bytes",
    "grid_points",
    "initialize",
    "load_sweep",
    "run_grid",
    "run_sweep",
    "seed_keys",
    "use_cpu_cores",
]
