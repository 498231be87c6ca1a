"""The compilation cache: compiled programs kept on disk between runs.

A rerun of a script loads its compiled executables instead of compiling them again. A cached
executable is the one a compile would produce (its key is the program, the compile options,
the backend and the JAX/jaxlib versions), so results are byte-identical with and without it.
Turning the cache on changes JAX's global configuration: entry points call
:func:`use_compilation_cache`; importing rnn_jax never does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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


def use_compilation_cache(folder: str | os.PathLike | None, *, given: bool = True) -> Path | None:
    """Turns JAX's persistent compilation cache on in ``folder`` (``None``: off), with the
    thresholds at 0 so that every executable of a sweep is kept. A later call replaces an
    earlier one (another folder, or off).

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
    if folder is not None:
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
            folder = None
    if folder is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
