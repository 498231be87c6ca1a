"""The runs layer: everything with side effects, around the pure core of :mod:`rnn_jax`.

Sweeps of many seeds (:func:`run_sweep`, :func:`run_grid`, compiled by :class:`Sweep`),
results folders that are records (:class:`RunFolder`, read back by :func:`load_sweep`), several
processes on one run (:class:`Processes`), the compilation cache, and the namespaces
:mod:`rnn_jax.runs.files` (atomic writes, plain formats), :mod:`rnn_jax.runs.identity` (what
decides a run's numbers), :mod:`rnn_jax.runs.plots` (figures) and :mod:`rnn_jax.runs.cli`
(what the scripts share).
"""

from rnn_jax._src.runs.cache import CACHE_ENV as CACHE_ENV
from rnn_jax._src.runs.cache import ExecutableCache as ExecutableCache
from rnn_jax._src.runs.cache import use_compilation_cache as use_compilation_cache
from rnn_jax._src.runs.engine import DEFAULT_MICROBATCH as DEFAULT_MICROBATCH
from rnn_jax._src.runs.engine import Sweep as Sweep
from rnn_jax._src.runs.engine import executable_bytes as executable_bytes
from rnn_jax._src.runs.engine import seed_keys as seed_keys
from rnn_jax._src.runs.folder import RunFolder as RunFolder
from rnn_jax._src.runs.folder import RunFolderError as RunFolderError
from rnn_jax._src.runs.grid import GridResult as GridResult
from rnn_jax._src.runs.grid import check_grid as check_grid
from rnn_jax._src.runs.grid import grid_points as grid_points
from rnn_jax._src.runs.grid import load_grid as load_grid
from rnn_jax._src.runs.grid import long_curves as long_curves
from rnn_jax._src.runs.grid import point_name as point_name
from rnn_jax._src.runs.grid import run_grid as run_grid
from rnn_jax._src.runs.grid import save_grid as save_grid
from rnn_jax._src.runs.processes import Processes as Processes
from rnn_jax._src.runs.processes import ProcessesDisagree as ProcessesDisagree
from rnn_jax._src.runs.processes import use_cpu_cores as use_cpu_cores
from rnn_jax._src.runs.runner import run_sweep as run_sweep
from rnn_jax._src.runs.store import CURVE_FIELDS as CURVE_FIELDS
from rnn_jax._src.runs.store import CURVES as CURVES
from rnn_jax._src.runs.store import METRICS as METRICS
from rnn_jax._src.runs.store import TABLE as TABLE
from rnn_jax._src.runs.store import TABLE_FIELDS as TABLE_FIELDS
from rnn_jax._src.runs.store import SweepResult as SweepResult
from rnn_jax._src.runs.store import load_sweep as load_sweep
from rnn_jax.runs import files as files
from rnn_jax.runs import identity as identity

__all__ = [
    "CACHE_ENV",
    "CURVES",
    "CURVE_FIELDS",
    "DEFAULT_MICROBATCH",
    "ExecutableCache",
    "GridResult",
    "METRICS",
    "Processes",
    "ProcessesDisagree",
    "RunFolder",
    "RunFolderError",
    "Sweep",
    "SweepResult",
    "TABLE",
    "TABLE_FIELDS",
    "check_grid",
    "executable_bytes",
    "files",
    "grid_points",
    "identity",
    "load_grid",
    "load_sweep",
    "long_curves",
    "point_name",
    "run_grid",
    "run_sweep",
    "save_grid",
    "seed_keys",
    "use_compilation_cache",
    "use_cpu_cores",
]
