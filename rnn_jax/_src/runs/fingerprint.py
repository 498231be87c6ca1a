"""Fingerprints: a hash of what an object computes, for objects a run's identity must describe.

A task or an optimizer object (an :class:`rnn_jax.Task`, an :class:`rnn_jax.Optimizer`, a
factory) decides a run's numbers through its functions' code *and* what those functions
capture: closure variables, default arguments, the module globals they read (a ``HIDDEN = 4``
at the top of a script), the functions they call. :func:`fingerprint` hashes all of it,
recursively:

* the code of functions written by the user (bytecode, constants, names, nested code), and
  the attributes they read from a module of the user's (``helpers.DELAY``);
* numbers, strings, booleans, ``None``, dtypes, tuples, lists, dicts, named tuples and
  dataclasses by value; NumPy and JAX arrays by dtype, shape and bytes;
* functions, classes and modules of rnn_jax and of the libraries it runs on (JAX, NumPy,
  optax, ...) by their qualified name: their code is the installed version, which the
  environment part of the identity records; what such a function captures (the arguments of
  a builder such as :func:`rnn_jax.sequence_task`, a closure of ``optax.adam``'s) is
  hashed by value like a user function's.

Anything else (an object with state of its own, an open file, a lock) cannot be described by
value: :class:`UnfingerprintableError` names where it was found, so a run refuses to be saved
rather than saved under an identity that would not tell it apart.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import sys
import types

import numpy as np

#: Modules whose objects are identified by name: their code is fixed by installed versions.
LIBRARIES = (
    "rnn_jax",
    "jax",
    "jaxlib",
    "numpy",
    "optax",
    "chex",
    "math",
    "builtins",
    "functools",
    "operator",
    "itertools",
    "typing",
    "collections",
)


class UnfingerprintableError(ValueError):
    """An object a run's identity would depend on but cannot describe by value."""


def _library(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in LIBRARIES


def fingerprint(obj, where: str = "object") -> str:
    """SHA-256 (hex) of what ``obj`` computes: its code and everything it captures.

    Args:
      obj: a function, a Task, an Optimizer, or any value built from the kinds listed in the
        module docstring.
      where: how an error names the object (``"task"``).

    Returns:
      The hex digest; two objects that differ only in a captured constant differ in it.

    Raises:
      UnfingerprintableError: naming the path to a captured object that cannot be described.

    Example:
      >>> from rnn_jax.runs.identity import fingerprint
      >>> def make(h):
      ...     return lambda x: x * h
      >>> fingerprint(make(4)) == fingerprint(make(4)) != fingerprint(make(8))
      True
    """
    digest = hashlib.sha256()
    _Walker(digest).visit(obj, where)
    return digest.hexdigest()


class _Walker:
    def __init__(self, digest):
        self.digest = digest
        self.seen: dict[int, int] = {}

    def put(self, *parts) -> None:
        for p in parts:
            self.digest.update(repr(p).encode())
            self.digest.update(b"\0")

    def visit(self, obj, path: str) -> None:  # noqa: C901 - one case per kind of value
        if obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
            self.put(type(obj).__name__, obj)
            return
        if id(obj) in self.seen:  # a cycle or a shared object: refer to its first visit
            self.put("seen", self.seen[id(obj)])
            return
        self.seen[id(obj)] = len(self.seen)
        if isinstance(obj, np.dtype):
            self.put("dtype", obj.str)
        elif isinstance(obj, np.generic):
            self.put("scalar", obj.dtype.str, obj.item())
        elif isinstance(obj, np.ndarray) or _is_jax_array(obj):
            arr = _host(obj)
            if arr.dtype == object:
                raise UnfingerprintableError(f"{path} is an array of Python objects")
            self.put("array", arr.dtype.str, arr.shape, hashlib.sha256(arr.tobytes()).hexdigest())
        elif isinstance(obj, types.ModuleType):
            self.put("module", obj.__name__)
        elif isinstance(obj, functools.partial):
            self.put("partial")
            self.visit(obj.func, f"{path}.func")
            self.visit(obj.args, f"{path}.args")
            self.visit(obj.keywords, f"{path}.keywords")
        elif isinstance(obj, types.MethodType):
            self.put("method")
            self.visit(obj.__func__, f"{path}.__func__")
            self.visit(obj.__self__, f"{path}.__self__")
        elif isinstance(obj, types.FunctionType):
            self.function(obj, path)
        elif isinstance(obj, type) or callable(obj) and _library(obj) and not _is_record(obj):
            self.put(
                "named", getattr(obj, "__module__", ""), getattr(obj, "__qualname__", repr(obj))
            )
        elif isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a NamedTuple: Task, Cell
            self.put("record", type(obj).__module__, type(obj).__qualname__)
            for name, value in zip(obj._fields, obj):
                self.visit(value, f"{path}.{name}")
        elif dataclasses.is_dataclass(obj):
            self.put("dataclass", type(obj).__module__, type(obj).__qualname__)
            for field in dataclasses.fields(obj):
                self.visit(getattr(obj, field.name), f"{path}.{field.name}")
        elif isinstance(obj, list | tuple | set | frozenset):
            items = sorted(obj, key=repr) if isinstance(obj, set | frozenset) else obj
            self.put(type(obj).__name__, len(items))
            for i, value in enumerate(items):
                self.visit(value, f"{path}[{i}]")
        elif isinstance(obj, dict) or _is_mapping(obj):
            self.put("mapping", len(obj))
            for key in sorted(obj, key=repr):
                self.visit(key, f"{path} key")
                self.visit(obj[key], f"{path}[{key!r}]")
        elif _library(obj) and _is_record(obj):
            self.put("library object", type(obj).__module__, type(obj).__qualname__)
            self.visit(dict(vars(obj)) if hasattr(obj, "__dict__") else repr(obj), path)
        else:
            raise UnfingerprintableError(
                f"{path} is a {type(obj).__name__} object, which rnn_jax cannot describe by value"
            )

    def function(self, fn: types.FunctionType, path: str) -> None:
        library = _library_function(fn)
        if library:  # its code is the installed version; what it captures is data
            self.put("named", fn.__module__, fn.__qualname__)
        else:
            self.put("function", fn.__qualname__)
            self.code(fn.__code__)
        self.visit(fn.__defaults__, f"{path} defaults")
        self.visit(fn.__kwdefaults__, f"{path} keyword defaults")
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell (a name assigned later)
                value = None
            self.visit(value, f"{path} captures {name!r}")
        if library:
            return
        names = _global_names(fn.__code__)
        for name in names:
            if name in fn.__globals__:
                value = fn.__globals__[name]
                self.visit(value, f"{path} reads global {name!r}")
                if isinstance(value, types.ModuleType) and not _library_module(value):
                    # a module of the user's: the attributes read (``helpers.DELAY``), by value
                    for attr in names:
                        if attr != name and attr in vars(value):
                            self.visit(vars(value)[attr], f"{path} reads {name}.{attr}")

    def code(self, code: types.CodeType) -> None:
        self.put("code", code.co_code, code.co_names, code.co_varnames, code.co_freevars)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                self.code(const)
            else:
                self.put(type(const).__name__, const)


def _library_module(module: types.ModuleType) -> bool:
    return module.__name__.split(".")[0] in LIBRARIES or module.__name__ in sys.stdlib_module_names


def _library_function(fn: types.FunctionType) -> bool:
    """A function of rnn_jax or of a library: its module is one of :data:`LIBRARIES` *and* its
    code lives in that package's files (a function defined elsewhere that only claims such a
    module, as in a doctest, is fingerprinted by its code)."""
    if not _library(fn):
        return False
    package = sys.modules.get(fn.__module__.split(".")[0])
    folder = os.path.dirname(getattr(package, "__file__", "") or "")
    return bool(folder) and os.path.abspath(fn.__code__.co_filename).startswith(folder)


def _global_names(code: types.CodeType) -> list[str]:
    """Names a code object (and the code nested in it) may read from its module's globals."""
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _global_names(const)
    return sorted(set(names))


def _host(obj) -> np.ndarray:
    """An array's values on the host (a key array as its raw key data)."""
    import jax

    if isinstance(obj, jax.Array) and jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(obj))
    return np.asarray(obj)


def _is_jax_array(obj) -> bool:
    import jax

    return isinstance(obj, jax.Array)


def _is_record(obj) -> bool:
    return not isinstance(obj, types.FunctionType | types.BuiltinFunctionType | type)


def _is_mapping(obj) -> bool:
    from collections.abc import Mapping

    return isinstance(obj, Mapping)
