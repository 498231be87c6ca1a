"""Result files: atomic writes, JSON, CSV and NPZ (no pickle), run folders, CLI parsing."""

from rnn_jax._src.io import atomic_write_bytes as atomic_write_bytes
from rnn_jax._src.io import cli as cli
from rnn_jax._src.io import read_csv as read_csv
from rnn_jax._src.io import read_json as read_json
from rnn_jax._src.io import read_npz as read_npz
from rnn_jax._src.io import run_dir as run_dir
from rnn_jax._src.io import to_jsonable as to_jsonable
from rnn_jax._src.io import write_csv as write_csv
from rnn_jax._src.io import write_json as write_json
from rnn_jax._src.io import write_npz as write_npz

__all__ = [
    "atomic_write_bytes",
    "cli",
    "read_csv",
    "read_json",
    "read_npz",
    "run_dir",
    "to_jsonable",
    "write_csv",
    "write_json",
    "write_npz",
]
