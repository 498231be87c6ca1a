"""What the experiment scripts share: parsing, results folders, one-line errors, interrupts.

A script is ``main(argv) -> result`` plus ``if __name__ == "__main__": cli.script(main)``.
"""

from rnn_jax._src.cli import CACHE_ENV as CACHE_ENV
from rnn_jax._src.cli import CompileCache as CompileCache
from rnn_jax._src.cli import Processes as Processes
from rnn_jax._src.cli import out_folder as out_folder
from rnn_jax._src.cli import parse as parse
from rnn_jax._src.cli import run_folder as run_folder
from rnn_jax._src.cli import script as script
from rnn_jax._src.cli import use_compilation_cache as use_compilation_cache
from rnn_jax._src.rundir import RunFolder as RunFolder
from rnn_jax._src.rundir import RunFolderError as RunFolderError
from rnn_jax._src.rundir import environment as environment

__all__ = [
    "CACHE_ENV",
    "CompileCache",
    "Processes",
    "RunFolder",
    "RunFolderError",
    "environment",
    "out_folder",
    "parse",
    "run_folder",
    "script",
    "use_compilation_cache",
]
