"""A results folder as a scientific record: one writer, a recorded identity, checksummed files.

A :class:`RunFolder` holds:

* ``config.json``: the run's **identity** (:mod:`rnn_jax.runs.identity`: everything that
  decides its numbers). Opening the folder for the same run continues it (or finds it
  complete); another run is refused, naming the settings that differ, unless the old run is
  explicitly moved aside (``overwrite``: renamed, never deleted).
* the committed files (a sweep's table and curves, a study's summary) and ``manifest.json``,
  which records their SHA-256 and is the commit point: new files are written as
  ``.NAME.pending``, then the manifest, then renamed into place. A folder killed at any moment
  is either at the previous commit (the pending files are dropped) or at the new one (they are
  renamed in) when it is opened again; a file that matches neither was edited or damaged, and
  is refused.
* ``.lock``: an exclusive ``flock`` held while the folder is open for writing, so a second
  writer is refused with the process that holds it (a dead process's lock is released by the
  operating system).

Every write is atomic, stays inside the folder and never follows a symbolic link
(:mod:`rnn_jax.runs.files`).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Mapping
from pathlib import Path

from rnn_jax._src.runs import files
from rnn_jax._src.runs.identity import differences

CONFIG = "config.json"
MANIFEST = "manifest.json"
LOCK = ".lock"
PENDING = ".pending"
FORMAT = 1


class RunFolderError(ValueError):
    """A results folder that cannot be opened as asked: locked, another identity, damaged."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RunFolder:
    """A results folder opened for one run (see the module docstring).

    Args:
      path: the folder; created if missing. It must not be a file or a link.
      identity: JSON values: what decides the run's numbers
        (:mod:`rnn_jax.runs.identity`).
      overwrite: when the folder holds a run of another identity, move that run aside (to a
        sibling folder ``<name>.replaced-<time>``, see :attr:`moved_to`) and start afresh;
        without it such a folder is refused. A folder holding the same run is always
        continued.
      processes: this process's place in the run (:class:`rnn_jax.runs.Processes`); only its
        writer (process 0) locks, reads and writes the folder, and the folder is recorded
        there for the messages of an interrupted or failed run. Default: one process.
      what: how errors name the folder (``"--out"`` for the scripts).

    Example:
      >>> import tempfile, rnn_jax.runs as runs
      >>> with tempfile.TemporaryDirectory() as d, runs.RunFolder(d, {"kind": "demo"}) as folder:
      ...     folder.commit({"numbers.csv": b"x\\n1\\n"}, seeds=1)
      ...     folder.seeds
      1
    """

    def __init__(
        self,
        path,
        identity: Mapping,
        *,
        overwrite: bool = False,
        processes=None,
        what: str = "results folder",
    ):
        self.path = Path(path)
        self.identity = files.to_jsonable(dict(identity))
        self.writer = True if processes is None else processes.writer
        self.what = what
        self.closed = False
        self.manifest: dict = {"format": FORMAT, "seeds": 0, "files": {}}
        self.moved_to: Path | None = None
        self.existed = False
        self._lock_fd = None
        self._processes = processes
        if not self.writer:
            return
        if not str(path).strip():
            raise RunFolderError(f"{what} must name a folder, got an empty string")
        self._make_folder()
        self._lock()
        try:
            files.clean_temp_files(self.path)
            self._open(overwrite)
        except BaseException:
            self.close()
            raise
        if processes is not None:
            processes.record(self)

    # -- opening

    @classmethod
    def existing(cls, path, what: str = "results folder") -> RunFolder:
        """A read-only view of a folder a run wrote: its identity and manifest, read under a
        shared lock (a folder being written is refused); :meth:`read` verifies checksums."""
        self = cls.__new__(cls)
        self.path, self.writer, self.what, self.closed = Path(path), False, what, False
        self._lock_fd, self._processes = None, None
        if not self.path.is_dir() or self.path.is_symlink():
            raise RunFolderError(f"{what} {self.path} is not a folder")
        lock = self.path / LOCK
        if lock.exists() or lock.is_symlink():
            try:
                fd = os.open(
                    lock, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                )
            except OSError:
                raise RunFolderError(f"{what} {self.path}: its {LOCK} is not a lock file") from None
            if not _is_regular(fd):
                os.close(fd)
                raise RunFolderError(f"{what} {self.path}: its {LOCK} is not a lock file")
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
            self.identity = files.read_json(self.path / CONFIG)
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
            files.real_folder(self.path, self.what)
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
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(lock, flags, 0o666)
        except OSError as e:
            raise RunFolderError(
                f"{self.what} {self.path}: cannot open its lock ({e.strerror})"
            ) from None
        if not _is_regular(fd):
            os.close(fd)
            raise RunFolderError(f"{self.what} {self.path}: its {LOCK} is not a lock file")
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
                if _only_readers(lock):
                    raise RunFolderError(
                        f"{self.what} {self.path} is being read by another process; try again "
                        "when it is done"
                    ) from None
                raise RunFolderError(
                    f"{self.what} {self.path} is being written{holder}; wait for it to finish "
                    "or choose another folder"
                ) from None
            raise
        os.ftruncate(fd, 0)
        host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64] or "localhost"
        os.pwrite(fd, f"pid {os.getpid()} on {host}\n".encode(), 0)
        self._lock_fd = fd

    def _open(self, overwrite: bool) -> None:
        config = self.path / CONFIG
        manifest = self.path / MANIFEST
        if not (config.exists() or config.is_symlink()):
            held = sorted(
                p.name
                for p in self.path.iterdir()
                if p.name != LOCK and not p.name.endswith(files.TEMP_SUFFIX)
            )
            if held:
                raise RunFolderError(
                    f"{self.what} {self.path} holds results without a {CONFIG} "
                    f"({', '.join(held[:3])}): not a run rnn_jax can vouch for; choose another "
                    "folder"
                )
            files.atomic_write_bytes(config, files.json_bytes(self.identity))
            return
        saved = files.read_json(config)
        if not isinstance(saved, dict):
            raise RunFolderError(f"{config} is not a run identity")
        diff = differences(saved, self.identity)
        if diff and overwrite:
            self._move_aside()
            return
        if diff:
            kinds = (saved.get("kind"), self.identity.get("kind"))
            what = (
                f"another kind of run ({kinds[0]}, not {kinds[1]})"
                if "kind" in diff
                else f"another run (it differs in {_named(diff)})"
            )
            raise RunFolderError(
                f"{self.what} {self.path} holds {what}; choose another folder, or "
                "--overwrite (overwrite=True) to move that run aside"
            )
        self.existed = True
        if manifest.exists() or manifest.is_symlink():
            self.manifest = self._read_manifest(manifest)
        else:
            data = sorted(
                p.name
                for p in self.path.iterdir()
                if p.is_file()
                and p.name not in (CONFIG, LOCK)
                and not p.name.endswith((files.TEMP_SUFFIX, PENDING, ".png"))
            )
            if data:
                raise RunFolderError(
                    f"{self.path}: {data[0]} has no {MANIFEST}; the run is damaged"
                )
        self._recover()

    def _move_aside(self) -> None:
        """Renames this folder to ``<name>.replaced-<time>`` (kept whole, lock released) and
        starts a fresh one at the same path, locked."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for i in range(100):
            target = self.path.with_name(f"{self.path.name}.replaced-{stamp}{f'-{i}' if i else ''}")
            if not (target.exists() or target.is_symlink()):
                break
        else:
            raise RunFolderError(f"{self.what} {self.path}: no free name to move the old run to")
        os.rename(self.path, target)
        os.close(self._lock_fd)  # its lock file moved with it
        self._lock_fd = None
        self.moved_to = target
        self._make_folder()
        self._lock()
        files.atomic_write_bytes(self.path / CONFIG, files.json_bytes(self.identity))

    def _read_manifest(self, path: Path) -> dict:
        m = files.read_json(path, max_bytes=1 << 16)
        ok = (
            isinstance(m, dict)
            and m.get("format") == FORMAT
            and isinstance(m.get("seeds"), int)
            and m["seeds"] >= 0
            and isinstance(m.get("files"), dict)
            and re.fullmatch(r"[0-9a-f]{64}", str(m.get("config", "0" * 64)))
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
        config = path.parent / CONFIG
        if "config" in m and _sha256(files.read_bytes(config, 1 << 22)) != m["config"]:
            raise RunFolderError(
                f"{config} does not match the checksum its writer recorded in {MANIFEST} "
                "(edited or damaged); refusing to use it"
            )
        return m

    def _recover(self) -> None:
        """Completes or drops a commit that a killed writer left half done."""
        for name, sha in self.manifest["files"].items():
            target, pending = self.path / name, self.path / f".{name}{PENDING}"
            if _matches(target, sha):
                continue
            if _matches(pending, sha):
                os.replace(pending, target)
                continue
            raise RunFolderError(
                f"{target} does not match the checksum its writer recorded in {MANIFEST} "
                "(edited or damaged); refusing to use it"
            )
        for entry in os.scandir(self.path):
            if entry.name.startswith(".") and entry.name.endswith(PENDING):
                os.unlink(entry.path)

    # -- reading and writing

    @property
    def seeds(self) -> int:
        """Seeds saved by the last commit."""
        return int(self.manifest["seeds"])

    def committed_seeds(self) -> int:
        """Seeds saved by the last commit on disk: the manifest is the commit point, so a
        commit interrupted after it counts (the next opening completes it)."""
        try:
            return int(self._read_manifest(self.path / MANIFEST)["seeds"])
        except (RunFolderError, files.FileError):
            return self.seeds

    def read(self, name: str, max_bytes: int) -> bytes:
        """A committed file's bytes, checked against its recorded checksum (and size cap)."""
        data = files.read_bytes(self.path / name, max_bytes)
        if _sha256(data) != self.manifest["files"].get(name):
            raise RunFolderError(
                f"{self.path / name} does not match the checksum its writer recorded in "
                f"{MANIFEST} (edited or damaged); refusing to use it"
            )
        return data

    def saved_json(self, name: str, max_bytes: int = 1 << 22):
        """A committed JSON file's contents (checksum verified), or ``None`` if not saved."""
        if name not in self.manifest["files"]:
            return None
        try:
            return json.loads(self.read(name, max_bytes))
        except (UnicodeDecodeError, ValueError):
            raise RunFolderError(f"{self.path / name} is not valid JSON") from None

    def commit(self, contents: Mapping[str, bytes], seeds: int) -> None:
        """Replaces the committed files named in ``contents`` as one atomic step (see the
        module docstring) and records that ``seeds`` seeds are saved. Nothing happens on a
        process that is not the writer."""
        if not self.writer:
            return
        for name, data in contents.items():
            files.atomic_write_bytes(self.path / f".{name}{PENDING}", data)
        manifest = {
            "format": FORMAT,
            "seeds": int(seeds),
            "config": _sha256(files.read_bytes(self.path / CONFIG, 1 << 22)),
            "files": {**self.manifest["files"], **{n: _sha256(d) for n, d in contents.items()}},
        }
        files.atomic_write_bytes(self.path / MANIFEST, files.json_bytes(manifest))
        for name in contents:
            os.replace(self.path / f".{name}{PENDING}", self.path / name)
        self.manifest = manifest

    def write(self, name: str, data: bytes) -> Path:
        """Writes an output file (a table, a figure) atomically inside the folder (on the
        writer only); ``name`` may name a subfolder (``"cells/a.md"``), a real folder."""
        target = self.path / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ValueError(f"{name!r} is not a name inside {self.path}")
        if self.writer:
            folder = self.path
            for part in Path(name).parts[:-1]:
                folder = files.real_folder(folder / part)
            files.atomic_write_bytes(target, data)
        return target

    def close(self) -> None:
        """Releases the lock (also released if the process dies)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _named(diff: list[str]) -> str:
    """The differing settings, named for a person; the code's hash as "the code changed"."""
    names = [
        "the code (rnn_jax's source)" if d.endswith("rnn_jax_source_sha256") else d for d in diff
    ]
    return ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")


def _only_readers(lock: Path) -> bool:
    """Whether the lock that refused a writer is held by readers only (a shared lock can
    still be taken)."""
    try:
        fd = os.open(
            lock, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _is_regular(fd: int) -> bool:
    import stat

    return stat.S_ISREG(os.fstat(fd).st_mode)


def _matches(path: Path, sha: str) -> bool:
    """``path`` is a regular file (not a link) whose SHA-256 is ``sha``."""
    try:
        data = files.read_bytes(path)
    except files.FileError:
        return False
    return _sha256(data) == sha
