"""A results folder as a scientific record: one writer, a recorded identity, checksummed files.

A :class:`RunFolder` holds:

* ``config.json``: the run's **identity**, everything that decides its numbers (the training
  config, the hyperparameter values, the base seed, the microbatch, the dtype actually used,
  the rnn_jax version and a hash of its source, the jax/jaxlib/optax versions, the backend and
  the device or CPU model). A resume whose identity differs is refused, naming what differs.
* the data files (a sweep's ``per_seed.csv`` and ``curves.npz``) and ``manifest.json``, which
  records their SHA-256 and is the commit point: new files are written as ``.NAME.pending``,
  then the manifest, then renamed into place. A folder killed at any moment is either at the
  previous commit (the pending files are dropped) or at the new one (they are renamed in) when
  it is opened again; a file that matches neither was edited or damaged, and is refused.
* ``.lock``: an exclusive ``flock`` held while the folder is open for writing, so a second
  writer is refused with the process that holds it (a dead process's lock is released by the
  operating system).

Every write is atomic, stays inside the folder and never follows a symbolic link
(:mod:`rnn_jax._src.io`).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import os
import platform
import re
import socket
import weakref
from collections.abc import Mapping
from pathlib import Path

from rnn_jax._src import io

CONFIG = "config.json"
MANIFEST = "manifest.json"
LOCK = ".lock"
PENDING = ".pending"
FORMAT = 1


class RunFolderError(ValueError):
    """A results folder that cannot be opened as asked: locked, another identity, damaged."""


# --------------------------------------------------------------------------- identity


@functools.cache
def source_hash() -> str:
    """SHA-256 of rnn_jax's source files (paths and contents): changes with any code change."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def environment() -> dict:
    """What decides a run's numbers besides its config: code, library versions, hardware.

    Float32 results can round differently on another CPU model or library version, so both
    are part of a run's identity (bit-identical results are promised only within one)."""
    import jax
    import jaxlib
    import optax

    import rnn_jax

    device = jax.devices()[0]
    return {
        "rnn_jax": rnn_jax.__version__,
        "rnn_jax_source_sha256": source_hash(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "optax": optax.__version__,
        "backend": jax.default_backend(),
        "device": device.device_kind,
        "cpu": _cpu_model(),
    }


def differences(saved: Mapping, wanted: Mapping, prefix: str = "") -> list[str]:
    """Dotted names of the entries where two nested mappings differ."""
    out = []
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


# --------------------------------------------------------------------------- the folder

#: Open folders, most recent last (what an interrupt reports).
_OPEN: list = []
_LAST: list = []


def last_written() -> tuple[Path, int] | None:
    """``(folder, seeds saved)`` of the folder this process opened for writing most recently
    (open or closed), for the messages of a failed or interrupted run."""
    folder = active()
    if folder is not None:
        return folder.path, folder.seeds
    return _LAST[-1] if _LAST else None


def active() -> RunFolder | None:
    """The most recently opened folder still open for writing, if any."""
    while _OPEN:
        folder = _OPEN[-1]()
        if folder is not None and not folder.closed:
            return folder
        _OPEN.pop()
    return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RunFolder:
    """A results folder opened for one run (see the module docstring).

    Args:
      path: the folder; created if missing. It must not be a file or a link.
      identity: JSON values: what decides the run's numbers (see :func:`environment`).
      resume: continue the run the folder holds (same identity); without it a folder that
        already holds a run is refused.
      writer: this process writes (default: :func:`rnn_jax.io.is_writer`, i.e. process 0 of a
        multi-process run); the others neither lock nor write, and read nothing.
      what: how errors name the folder (``"--out"`` for the scripts).
    """

    def __init__(
        self,
        path,
        identity: Mapping,
        *,
        resume: bool,
        writer: bool | None = None,
        what: str = "results folder",
    ):
        self.path = Path(path)
        self.identity = io.to_jsonable(dict(identity))
        self.writer = io.is_writer() if writer is None else writer
        self.what = what
        self.closed = False
        self.manifest: dict = {"format": FORMAT, "seeds": 0, "files": {}}
        self._lock_fd = None
        if not self.writer:
            return
        if not str(path).strip():
            raise RunFolderError(f"{what} must name a folder, got an empty string")
        self._make_folder()
        self._lock()
        try:
            io.clean_temp_files(self.path)
            self._open(resume)
        except BaseException:
            self.close()
            raise
        _OPEN.append(weakref.ref(self))

    # -- opening

    @classmethod
    def existing(cls, path, what: str = "results folder") -> RunFolder:
        """A read-only view of a folder a run wrote: its identity and manifest, read under a
        shared lock (a folder being written is refused); :meth:`read` verifies checksums."""
        self = cls.__new__(cls)
        self.path, self.writer, self.what, self.closed, self._lock_fd = (
            Path(path),
            False,
            what,
            False,
            None,
        )
        if not self.path.is_dir() or self.path.is_symlink():
            raise RunFolderError(f"{what} {self.path} is not a folder")
        lock = self.path / LOCK
        if lock.exists() and not lock.is_symlink():
            fd = os.open(lock, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise RunFolderError(
                    f"{what} {self.path} is still being written; wait for it to finish"
                ) from None
            self._lock_fd = fd
        try:
            if not (self.path / CONFIG).is_file():
                raise RunFolderError(f"{what} {self.path} holds no run ({CONFIG} is missing)")
            self.identity = io.read_json(self.path / CONFIG)
            if not (self.path / MANIFEST).is_file():
                raise RunFolderError(
                    f"{what} {self.path} holds no saved results ({MANIFEST} is missing)"
                )
            self.manifest = self._read_manifest(self.path / MANIFEST)
        except BaseException:
            self.close()
            raise
        return self

    def _make_folder(self) -> None:
        try:
            io.real_folder(self.path, self.what)
        except PermissionError:
            raise RunFolderError(f"{self.what} {self.path}: permission denied") from None
        except OSError as e:
            raise RunFolderError(
                f"{self.what} {self.path} cannot be created ({e.strerror})"
            ) from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise RunFolderError(f"{self.what} {self.path} is not writable")

    def _lock(self) -> None:
        lock = self.path / LOCK
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except OSError as e:
            raise RunFolderError(
                f"{self.what} {self.path}: cannot open its lock ({e.strerror})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = ""
            try:
                text = os.pread(fd, 200, 0).decode("ascii", "replace")
                m = re.fullmatch(r"pid (\d+) on ([A-Za-z0-9._-]{1,64})\n?", text)
                holder = f" by process {m.group(1)} on {m.group(2)}" if m else ""
            finally:
                os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunFolderError(
                    f"{self.what} {self.path} is being written{holder}; wait for it to finish "
                    "or choose another folder"
                ) from None
            raise
        os.ftruncate(fd, 0)
        host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64] or "localhost"
        os.pwrite(fd, f"pid {os.getpid()} on {host}\n".encode(), 0)
        self._lock_fd = fd

    def _open(self, resume: bool) -> None:
        config = self.path / CONFIG
        manifest = self.path / MANIFEST
        has_config = config.exists() or config.is_symlink()
        data = [p.name for p in self.path.iterdir() if p.name in ("per_seed.csv", "curves.npz")]
        if not has_config:
            if data or manifest.exists():
                raise RunFolderError(
                    f"{self.what} {self.path} holds results without a {CONFIG}: not a run "
                    "rnn_jax can vouch for; choose another folder"
                )
            io.atomic_write_bytes(config, io.json_bytes(self.identity))
            return
        saved = io.read_json(config)
        if not isinstance(saved, dict):
            raise RunFolderError(f"{config} is not a run identity")
        if not resume:
            raise RunFolderError(
                f"{self.what} {self.path} already holds a run; rerun with --resume "
                "(resume=True) to continue it, or choose another folder"
            )
        diff = differences(saved, self.identity)
        if diff:
            raise RunFolderError(
                f"{self.what} {self.path} holds a run of another identity (differs in "
                f"{', '.join(diff[:8])}{', ...' if len(diff) > 8 else ''}); refusing to resume "
                "into it"
            )
        if manifest.exists() or manifest.is_symlink():
            self.manifest = self._read_manifest(manifest)
        elif data:
            raise RunFolderError(f"{self.path}: {data[0]} has no {MANIFEST}; the run is damaged")
        self._recover()

    def _read_manifest(self, path: Path) -> dict:
        m = io.read_json(path, max_bytes=1 << 16)
        ok = (
            isinstance(m, dict)
            and m.get("format") == FORMAT
            and isinstance(m.get("seeds"), int)
            and m["seeds"] >= 0
            and isinstance(m.get("files"), dict)
            and all(
                isinstance(k, str)
                and re.fullmatch(r"[a-z_]+\.[a-z]+", k)
                and isinstance(v, str)
                and re.fullmatch(r"[0-9a-f]{64}", v)
                for k, v in m["files"].items()
            )
        )
        if not ok:
            raise RunFolderError(f"{path} is not a manifest rnn_jax wrote")
        return m

    def _recover(self) -> None:
        """Completes or drops a commit that a killed writer left half done."""
        for name, sha in self.manifest["files"].items():
            target, pending = self.path / name, self.path / f".{name}{PENDING}"
            if target.is_file() and not target.is_symlink() and _sha256(target.read_bytes()) == sha:
                continue
            if (
                pending.is_file()
                and not pending.is_symlink()
                and _sha256(pending.read_bytes()) == sha
            ):
                os.replace(pending, target)
                continue
            raise RunFolderError(
                f"{target} does not match the checksum its writer recorded in {MANIFEST} "
                "(edited or damaged); refusing to resume from it"
            )
        for entry in os.scandir(self.path):
            if entry.name.startswith(".") and entry.name.endswith(PENDING):
                os.unlink(entry.path)

    # -- reading and writing

    @property
    def seeds(self) -> int:
        """Seeds saved by the last commit."""
        return int(self.manifest["seeds"])

    def read(self, name: str, max_bytes: int) -> bytes:
        """A committed file's bytes, checked against its recorded checksum (and size cap)."""
        data = io.read_bytes(self.path / name, max_bytes)
        if _sha256(data) != self.manifest["files"].get(name):
            raise RunFolderError(
                f"{self.path / name} does not match the checksum its writer recorded in "
                f"{MANIFEST} (edited or damaged); refusing to resume from it"
            )
        return data

    def saved_json(self, name: str, max_bytes: int = 1 << 22):
        """A committed JSON file's contents (checksum verified), or ``None`` if not saved."""
        if name not in self.manifest["files"]:
            return None
        import json

        try:
            return json.loads(self.read(name, max_bytes))
        except (UnicodeDecodeError, ValueError):
            raise RunFolderError(f"{self.path / name} is not valid JSON") from None

    def commit(self, files: Mapping[str, bytes], seeds: int) -> None:
        """Replaces the data files with ``files`` as one atomic step (see the module
        docstring) and records that ``seeds`` seeds are saved."""
        if not self.writer:
            return
        for name, data in files.items():
            io.atomic_write_bytes(self.path / f".{name}{PENDING}", data)
        manifest = {
            "format": FORMAT,
            "seeds": int(seeds),
            "files": {**self.manifest["files"], **{n: _sha256(d) for n, d in files.items()}},
        }
        io.atomic_write_bytes(self.path / MANIFEST, io.json_bytes(manifest))
        for name in files:
            os.replace(self.path / f".{name}{PENDING}", self.path / name)
        self.manifest = manifest

    def write(self, name: str, data: bytes) -> Path:
        """Writes an output file (metrics, a table, a figure) atomically inside the folder;
        ``name`` may name a subfolder (``"cells/a.md"``), which must be a real folder."""
        target = self.path / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ValueError(f"{name!r} is not a name inside {self.path}")
        folder = self.path
        for part in Path(name).parts[:-1]:
            folder = io.real_folder(folder / part)
        if self.writer:
            io.atomic_write_bytes(target, data)
        return target

    def close(self) -> None:
        """Releases the lock (also released if the process dies)."""
        if self.writer and not self.closed:
            _LAST[:] = [(self.path, self.seeds)]
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
