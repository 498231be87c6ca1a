"""The compilation cache: compiled programs kept on disk between runs.

A rerun of a script loads its compiled sweeps (:class:`ExecutableCache`: every entry verified
against the checksum and the key recorded when it was written) instead of tracing, lowering
and compiling them again; a loaded program is the one a compile produces, so results are
byte-identical with and without the cache. JAX's own persistent cache, which loads entries
without verifying them, stays off in the scripts (:func:`use_compilation_cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from rnn_jax._src.runs import files

#: The environment variable naming the cache folder (default ``~/.cache/rnn_jax/jax``).
CACHE_ENV = "RNN_JAX_CACHE_DIR"


def default_cache_folder() -> Path:
    """``$RNN_JAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnn_jax/jax``, else
    ``~/.cache/rnn_jax/jax``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()
    return Path(base) / "rnn_jax" / "jax"


def _usable(folder: Path) -> str | None:
    """Why ``folder`` cannot hold the cache (``None``: it can), after creating it."""
    if folder.exists() and not folder.is_dir():
        return "exists and is not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"cannot be created ({e.strerror})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "is not writable"
    return None


def usable_folder(folder: str | os.PathLike | None, *, given: bool = True) -> Path | None:
    """``folder``, created, when it can hold a cache; ``None`` for no folder.

    Args:
      folder: the cache folder, or ``None``.
      given: the user named it (``--cache-dir``): a folder that cannot hold the cache is an
        error. Otherwise (the default location) it turns the cache off with one warning line
        on stderr.
    """
    if folder is None:
        return None
    folder = Path(folder)
    problem = _usable(folder)
    if problem is not None and given:
        raise ValueError(f"--cache-dir {folder} {problem}")
    if problem is not None:
        print(
            f"warning: the compilation cache is off: {folder} {problem} "
            f"(set --cache-dir or {CACHE_ENV})",
            file=sys.stderr,
        )
        return None
    return folder


def use_compilation_cache(folder: str | os.PathLike | None, *, given: bool = True) -> Path | None:
    """Turns JAX's own persistent compilation cache on in ``folder`` (``None``: off), with the
    thresholds at 0 so that every program is kept. JAX loads its entries without verifying
    them: the scripts use :class:`ExecutableCache` instead; this is for a program of your own
    (and the test suite). A later call replaces an earlier one (another folder, or off).

    Args:
      folder: the cache folder, created if missing; ``None`` turns the cache off.
      given: the user named ``folder`` (``--cache-dir``): a folder that cannot hold the cache
        is an error. Otherwise (the default location) it turns the cache off with one warning
        line on stderr.

    Returns:
      The folder in use, or ``None`` when the cache is off.
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    # JAX opens its cache once per process and then ignores changes of the folder or of the
    # switch; resetting it makes a second call take effect (tests, the benchmark's cold/warm).
    compilation_cache.reset_cache()
    folder = usable_folder(folder, given=given)
    if folder is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


class ExecutableCache:
    """Compiled sweeps kept on disk, each verified before it is loaded.

    A warm rerun loads a sweep's executable instead of tracing, lowering and compiling it
    (a second or more per structure). Every entry records the SHA-256 of its contents and the
    exact key it was compiled for (the run's settings and task fingerprint, the chunking and
    devices, the environment: code, versions, CPU, ``XLA_FLAGS``); an entry whose contents or
    key do not match (a flipped byte, a truncated or copied file) is discarded with one
    warning line and the program compiled again. Entries are written atomically. Only runs
    whose identity is complete are cached: a task or optimizer that cannot be fingerprinted
    compiles every time.

    The entries are JAX's serialized executables, which load through pickle: the checksum
    guards against damage, not against someone who can write to the cache folder (as the
    folder of the installed code, it is the user's own).

    Args:
      folder: the cache folder; entries go to ``folder/executables``.
    """

    FORMAT = 1

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder) / "executables"

    def path(self, key: dict) -> Path:
        """The file of the entry for ``key``."""
        name = hashlib.sha256(_canonical(key)).hexdigest()
        return self.folder / f"{name}.rjx"

    def load(self, key: dict, in_tree, out_tree, devices):
        """The compiled program stored for ``key``, verified; ``None`` if there is none or it
        is damaged (then it is removed)."""
        from jax.experimental import serialize_executable

        path = self.path(key)
        if not (path.exists() or path.is_symlink()):
            return None
        try:
            data = files.read_bytes(path, MAX_ENTRY)
            head, _, payload = data.partition(b"\n")
            header = json.loads(head)
            ok = (
                isinstance(header, dict)
                and header.get("format") == self.FORMAT
                and header.get("key") == json.loads(_canonical(key))
                and header.get("sha256") == hashlib.sha256(payload).hexdigest()
            )
            if not ok:
                raise ValueError("its contents or its key do not match what was recorded")
            return serialize_executable.deserialize_and_load(
                payload, in_tree, out_tree, execution_devices=devices
            )
        except Exception as e:  # noqa: BLE001 - any damage: discard, compile again
            self.discard(key, " ".join(str(e).split())[:120] or type(e).__name__)
            return None

    def discard(self, key: dict, why: str) -> None:
        """Removes the entry for ``key``, saying why in one warning line."""
        print(
            f"warning: discarded a damaged compiled program in {self.folder} ({why}); "
            "compiling it again",
            file=sys.stderr,
        )
        try:
            self.path(key).unlink()
        except OSError:
            pass

    def store(self, key: dict, compiled) -> None:
        """Writes ``compiled`` for ``key`` atomically (a program that cannot be serialized, or
        a folder that cannot be written, is skipped silently: the cache is an optimization)."""
        from jax.experimental import serialize_executable

        try:
            payload, _, _ = serialize_executable.serialize(compiled)
            header = {
                "format": self.FORMAT,
                "key": json.loads(_canonical(key)),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
            self.folder.mkdir(parents=True, exist_ok=True)
            files.atomic_write_bytes(self.path(key), _canonical(header) + b"\n" + payload)
        except (OSError, ValueError, NotImplementedError, TypeError):
            pass


#: The largest entry read back (an executable of a sweep is a few MiB).
MAX_ENTRY = 1 << 30


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
