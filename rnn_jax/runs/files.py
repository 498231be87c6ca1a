"""Result files: atomic writes that stay inside their folder, JSON, CSV and NPZ (no pickle),
reading regular files only, with size caps."""

from rnn_jax._src.runs.files import FileError as FileError
from rnn_jax._src.runs.files import atomic_write_bytes as atomic_write_bytes
from rnn_jax._src.runs.files import clean_temp_files as clean_temp_files
from rnn_jax._src.runs.files import csv_bytes as csv_bytes
from rnn_jax._src.runs.files import figure_bytes as figure_bytes
from rnn_jax._src.runs.files import json_bytes as json_bytes
from rnn_jax._src.runs.files import npz_bytes as npz_bytes
from rnn_jax._src.runs.files import parse_csv as parse_csv
from rnn_jax._src.runs.files import parse_npz as parse_npz
from rnn_jax._src.runs.files import read_bytes as read_bytes
from rnn_jax._src.runs.files import read_csv as read_csv
from rnn_jax._src.runs.files import read_json as read_json
from rnn_jax._src.runs.files import read_npz as read_npz
from rnn_jax._src.runs.files import real_folder as real_folder
from rnn_jax._src.runs.files import to_jsonable as to_jsonable
from rnn_jax._src.runs.files import write_csv as write_csv
from rnn_jax._src.runs.files import write_json as write_json
from rnn_jax._src.runs.files import write_npz as write_npz
from rnn_jax._src.runs.files import write_text as write_text

__all__ = [
    "FileError",
    "atomic_write_bytes",
    "clean_temp_files",
    "csv_bytes",
    "figure_bytes",
    "json_bytes",
    "npz_bytes",
    "parse_csv",
    "parse_npz",
    "read_bytes",
    "read_csv",
    "read_json",
    "read_npz",
    "real_folder",
    "to_jsonable",
    "write_csv",
    "write_json",
    "write_npz",
    "write_text",
]
