"""Result files: atomic writes inside a folder, and the plain formats results are kept in.

Results are JSON, CSV and NPZ (never pickle). Every write goes to a temporary file in the
target's folder, created with the user's umask and never through a symbolic link, and is then
renamed over the target (a rename replaces a link, it does not follow it), so a killed process
never leaves a half-written file and a link planted in a results folder redirects nothing.
Leftover temporary files of a killed writer are removed by :func:`clean_temp_files`.
"""

from __future__ import annotations

import array
import csv
import dataclasses
import errno
import io
import json
import math
import os
import secrets
import stat
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TEMP_SUFFIX = ".tmp"


class FileError(ValueError):
    """A results file that is missing, too large, damaged or not what it should be."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically: a temporary file in the same folder (mode
    ``0o666`` less the umask, opened with ``O_NOFOLLOW | O_EXCL`` under an unpredictable
    name), fsynced, then renamed over ``path``.

    Args:
      path: the file to (re)place; its folder must exist.
      data: the whole contents.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def clean_temp_files(folder: str | os.PathLike) -> list[str]:
    """Removes the temporary files a killed writer left in ``folder`` (``.*.tmp``); returns
    their names. Call it only while holding the folder's lock."""
    removed = []
    for entry in os.scandir(folder):
        if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def real_folder(path: str | os.PathLike, what: str = "folder") -> Path:
    """``path`` as an existing directory that is not a symbolic link, created if missing;
    ``ValueError`` with one line otherwise."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        path.mkdir(parents=True)
        return path
    if stat.S_ISLNK(st.st_mode):
        raise ValueError(f"{what} {path} is a symbolic link; results are not written through links")
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{what} {path} exists and is not a folder")
    return path


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
    if isinstance(x, Path):
        return str(x)
    return x


# --------------------------------------------------------------------------- formats as bytes


def json_bytes(obj) -> bytes:
    """``obj`` (through :func:`to_jsonable`) as indented JSON with a final newline; NaN and
    infinities are written as ``null``."""
    return (json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n").encode()


def csv_bytes(columns: Mapping[str, Sequence]) -> bytes:
    """Columns of equal length as CSV; floats with ``repr`` (exact round trip), bools as 0/1."""
    names = list(columns)
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for row in zip(*(np.asarray(columns[k]) for k in names)):
        w.writerow([_cell(v) for v in row])
    return buf.getvalue().encode()


def _cell(v) -> str:
    v = np.asarray(v).item()
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def npz_bytes(**arrays) -> bytes:
    """``arrays`` as the bytes of an uncompressed NPZ file (``numpy.savez``)."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def figure_bytes(fig, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes at ``dpi`` dots per inch."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def write_json(path, obj) -> None:
    """Writes :func:`json_bytes` of ``obj`` atomically (:func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, json_bytes(obj))


def write_csv(path, columns: Mapping[str, Sequence]) -> None:
    """Writes :func:`csv_bytes` of ``columns`` atomically."""
    atomic_write_bytes(path, csv_bytes(columns))


def write_npz(path, **arrays) -> None:
    """Writes :func:`npz_bytes` of ``arrays`` atomically."""
    atomic_write_bytes(path, npz_bytes(**arrays))


def write_text(path, text: str) -> None:
    """Writes ``text`` (UTF-8) atomically."""
    atomic_write_bytes(path, text.encode())


# --------------------------------------------------------------------------- reading, capped


def read_bytes(path, max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file ``path``, refusing a link, a FIFO, a device or a folder
    (opened without following links and without blocking, checked before reading) and a file
    larger than ``max_bytes``."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileError(f"{path} is missing") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise FileError(f"{path} is a symbolic link; results are read from files") from None
        raise FileError(f"{path} cannot be read ({e.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise FileError(f"{path} is not a regular file")
    with os.fdopen(fd, "rb") as f:
        if max_bytes is not None and st.st_size > max_bytes:
            raise FileError(
                f"{path} is {st.st_size:,} bytes, more than the {max_bytes:,} it can hold"
            )
        data = f.read() if max_bytes is None else f.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            raise FileError(f"{path} grew past {max_bytes:,} bytes while being read")
        return data


def read_json(path, max_bytes: int = 1 << 22):
    """The JSON value in ``path`` (at most ``max_bytes``, not through a link); a
    :class:`FileError` naming the file when it is missing, too large or not JSON."""
    try:
        return json.loads(read_bytes(path, max_bytes))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        line = f" (line {e.lineno})" if isinstance(e, json.JSONDecodeError) else ""
        raise FileError(f"{path} is not valid JSON{line}") from None


def parse_csv(data: bytes, name: str = "table") -> dict[str, np.ndarray]:
    """CSV bytes to columns: int64 where every value is an int, float64 where every value is a
    number, str otherwise. Read row by row into typed buffers (8 bytes a number), so a large
    table costs about its numbers' size in memory, not a Python object per cell."""
    try:
        reader = csv.reader(io.StringIO(data.decode()))
        names = next(reader, None)
        if names is None:
            raise FileError(f"{name} is empty")
        columns = [_Column() for _ in names]
        for row in reader:
            if len(row) != len(names):
                raise FileError(
                    f"{name} has rows with a different number of fields than its header"
                )
            for column, text in zip(columns, row):
                column.add(text)
    except (UnicodeDecodeError, csv.Error):
        raise FileError(f"{name} is not a valid CSV file") from None
    return {n: c.array() for n, c in zip(names, columns)}


class _Column:
    """One CSV column, kept as int64 while it can be, then float64, then strings."""

    def __init__(self):
        self.kind, self.values, self.ints = "i", array.array("q"), 0

    def add(self, text: str) -> None:
        if self.kind == "i":
            try:
                self.values.append(int(text))
                return
            except (ValueError, OverflowError):
                self.ints = len(self.values)  # the first values were ints
                self.kind, self.values = "f", array.array("d", self.values)
        if self.kind == "f":
            try:
                self.values.append(float(text))
                return
            except ValueError:
                shown = [
                    str(int(v)) if i < self.ints else repr(v) for i, v in enumerate(self.values)
                ]
                self.kind, self.values = "s", shown
        self.values.append(text)

    def array(self) -> np.ndarray:
        if self.kind == "s":
            return np.array(self.values, dtype=str)
        return np.frombuffer(self.values, np.int64 if self.kind == "i" else np.float64).copy()


def read_csv(path, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """The columns of the CSV file ``path`` (:func:`parse_csv`), read with a size cap."""
    return parse_csv(read_bytes(path, max_bytes), str(path))


def parse_npz(data: bytes, name: str = "arrays", expect: Mapping[str, tuple] | None = None):
    """NPZ bytes to arrays, without pickle. With ``expect`` (``{key: shape}``), the keys must
    be exactly those and each array's header must give that shape and a number dtype before
    anything is allocated (a hostile file cannot make it allocate more)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = {m[: -len(".npy")]: m for m in zf.namelist() if m.endswith(".npy")}
        if expect is not None:
            if set(members) != set(expect) or len(members) != len(zf.namelist()):
                raise FileError(f"{name} does not hold exactly the arrays {sorted(expect)}")
            for key, shape in expect.items():
                with zf.open(members[key]) as f:
                    version = np.lib.format.read_magic(f)
                    header = (
                        np.lib.format.read_array_header_1_0(f)
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0(f)
                    )
                got_shape, _, dtype = header
                if tuple(got_shape) != tuple(shape) or dtype.kind not in "iuf":
                    raise FileError(
                        f"{name}: array {key!r} has shape {tuple(got_shape)} and dtype "
                        f"{dtype}, expected {tuple(shape)} numbers"
                    )
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError):
        raise FileError(
            f"{name} is not an NPZ file of numeric arrays (pickled objects are refused)"
        ) from None


def read_npz(path, max_bytes: int | None = None, expect=None) -> dict[str, np.ndarray]:
    """The arrays of an NPZ file, loaded without pickle (an object array is refused)."""
    return parse_npz(read_bytes(path, max_bytes), str(path), expect)
