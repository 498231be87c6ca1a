"""Result files: atomic writes, JSON, CSV tables, run directories, and CLI parsing.

Results are plain files (JSON, CSV, NPZ without pickle); every write goes to a temporary file
in the same directory and is renamed over the target, so a killed process never leaves a
half-written file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def to_jsonable(x: Any):
    """Plain JSON values; non-finite floats become ``null`` (JSON has no NaN or Inf)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(x).items()}
    if isinstance(x, Mapping):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [to_jsonable(v) for v in x]
    if isinstance(x, np.ndarray) or hasattr(x, "__array__"):
        arr = np.asarray(x)
        return to_jsonable(arr.item() if arr.ndim == 0 else arr.tolist())
    if isinstance(x, np.generic):
        return to_jsonable(x.item())
    return x


def write_json(path, obj) -> None:
    text = json.dumps(to_jsonable(obj), indent=2, sort_keys=False, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode())


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_csv(path, columns: Mapping[str, Sequence]) -> None:
    """Columns of equal length to CSV; floats with ``repr`` (exact round trip)."""
    names = list(columns)
    n = {len(v) for v in columns.values()}
    if len(n) > 1:
        raise ValueError(f"columns have different lengths: {n}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    cols = [np.asarray(columns[k]) for k in names]
    for row in zip(*cols):
        w.writerow([_cell(v) for v in row])
    atomic_write_bytes(path, buf.getvalue().encode())


def _cell(v) -> str:
    v = np.asarray(v).item()
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def read_csv(path) -> dict[str, np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path} is empty")
    names, body = rows[0], rows[1:]
    out = {}
    for j, name in enumerate(names):
        col = [r[j] for r in body]
        try:
            out[name] = np.array([int(c) for c in col], dtype=np.int64)
        except ValueError:
            try:
                out[name] = np.array([float(c) for c in col], dtype=np.float64)
            except ValueError:
                out[name] = np.array(col, dtype=str)
    return out


def write_npz(path, **arrays) -> None:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buf.getvalue())


def read_npz(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def run_dir(out: str | None, study: str, name: str) -> Path:
    """``out`` or ``results/<study>/<name>/``, created if missing."""
    path = Path(out) if out else Path("results") / study / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def cli(config_cls, argv: Sequence[str] | None = None, description: str | None = None):
    """Parses a frozen dataclass from the command line (tyro); flat flags (``--task``).

    A bad value exits with status 2 and one line on stderr naming the argument.
    """
    import contextlib

    import tyro

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return tyro.cli(
                config_cls,
                args=argv,
                description=description,
                config=(tyro.conf.OmitArgPrefixes,),
            )
    except SystemExit as e:
        if e.code not in (0, None):
            print(f"error: {_one_line(captured.getvalue())}", file=sys.stderr)
        raise
    except (ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _one_line(tyro_message: str) -> str:
    """tyro's boxed error as one line: its title and first explanatory lines."""
    lines = []
    for raw in tyro_message.splitlines():
        line = raw.strip().strip("╭╮╰╯│─").strip()
        if line.startswith(("Argument helptext", "For full helptext")):
            break
        if line and set(line) - set("─ "):
            lines.append(line)
    return " ".join(lines) or "invalid arguments (see --help)"
