"""What the experiment scripts share: flags, parsing, one setup call, one-line errors,
interrupts."""

from rnn_jax._src.runs.cli import EXIT_INTERNAL as EXIT_INTERNAL
from rnn_jax._src.runs.cli import EXIT_OK as EXIT_OK
from rnn_jax._src.runs.cli import EXIT_PEER as EXIT_PEER
from rnn_jax._src.runs.cli import EXIT_USAGE as EXIT_USAGE
from rnn_jax._src.runs.cli import CompileCache as CompileCache
from rnn_jax._src.runs.cli import Context as Context
from rnn_jax._src.runs.cli import Output as Output
from rnn_jax._src.runs.cli import ProcessFlags as ProcessFlags
from rnn_jax._src.runs.cli import TrainFlags as TrainFlags
from rnn_jax._src.runs.cli import failure as failure
from rnn_jax._src.runs.cli import flag as flag
from rnn_jax._src.runs.cli import one_line as one_line
from rnn_jax._src.runs.cli import out_folder as out_folder
from rnn_jax._src.runs.cli import parse as parse
from rnn_jax._src.runs.cli import registered as registered
from rnn_jax._src.runs.cli import reuse_or_run as reuse_or_run
from rnn_jax._src.runs.cli import run_folder as run_folder
from rnn_jax._src.runs.cli import script as script
from rnn_jax._src.runs.cli import start as start

__all__ = [
    "CompileCache",
    "Context",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_PEER",
    "EXIT_USAGE",
    "Output",
    "ProcessFlags",
    "TrainFlags",
    "failure",
    "flag",
    "one_line",
    "out_folder",
    "parse",
    "registered",
    "reuse_or_run",
    "run_folder",
    "script",
    "start",
]
