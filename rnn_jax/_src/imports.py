"""Import strings: a task or an optimizer named by where it lives, as ``module:attribute``.

``"my_study:make_task"`` imports ``my_study`` (from the working directory first, then
``sys.path``, as ``python -m`` would) and takes its attribute ``make_task``; dotted attributes
(``"pkg.mod:obj.attr"``) are followed. ``"optax:NAME"`` names any of optax's optimizer aliases
(``optax:lion``), its hyperparameters read from the alias's signature.

What an import string resolves to is identified by the string and a SHA-256 of the module's
source file (:func:`source_of`), so a run records which code it ran.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Hyperparameters an optax alias takes by keyword that are not numbers to sweep.
_NOT_SWEPT = ("mu_dtype", "nesterov", "eps_in_sqrt", "bias_correction", "centered")


def is_import_string(name) -> bool:
    """Whether ``name`` is ``module:attribute`` (not a registry name)."""
    return isinstance(name, str) and ":" in name


def split(spec: str, what: str) -> tuple[str, str]:
    """``"module:attr"`` -> ``("module", "attr")``, checked; ``what`` names the flag."""
    module, _, attr = spec.partition(":")
    names = [*module.split("."), *attr.split(".")]
    if not module or not attr or not all(n.isidentifier() for n in names):
        raise ValueError(f"{what} {spec!r} is not MODULE:ATTRIBUTE (e.g. my_study:make_task)")
    return module, attr


def resolve(spec: str, what: str) -> Any:
    """The object an import string names; one line when the module does not import or the
    attribute is missing.

    Args:
      spec: ``"module:attribute"``.
      what: how errors name it (``"--task"``).

    Returns:
      The attribute.
    """
    module_name, attr = split(spec, what)
    cwd = str(Path.cwd())
    added = cwd not in sys.path
    if added:  # as `python -m` would: the working directory first
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - a user module: any failure is one line
        detail = " ".join(str(e).split())[:200] or type(e).__name__
        raise ValueError(
            f"{what} {spec!r}: module {module_name!r} does not import ({detail})"
        ) from None
    finally:
        if added:
            sys.path.remove(cwd)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{what} {spec!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def source_of(spec: str) -> str | None:
    """SHA-256 of the source file of an import string's module (``None`` for a module
    without one, such as a compiled extension)."""
    module_name, _ = split(spec, "import string")
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def optax_alias(name: str):
    """``optax.<name>`` and its sweepable hyperparameters: ``(alias, {name: default})``, the
    defaults ``None`` where the alias has none (``learning_rate``)."""
    import optax

    alias = getattr(optax, name, None)
    if not callable(alias) or name.startswith("_"):
        raise ValueError(f"--optimizer optax:{name}: optax has no optimizer {name!r}")
    try:
        signature = inspect.signature(alias)
    except (TypeError, ValueError):
        raise ValueError(f"--optimizer optax:{name}: its signature cannot be read") from None
    hparams = {}
    for p in signature.parameters.values():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.name in _NOT_SWEPT:
            continue
        default = p.default
        if default is p.empty:
            hparams[p.name] = None
        elif isinstance(default, int | float) and not isinstance(default, bool):
            hparams[p.name] = float(default)
    if "learning_rate" not in hparams:
        raise ValueError(f"--optimizer optax:{name}: not an optimizer (no learning_rate)")
    return alias, hparams


def parse_args(pairs: Mapping[str, str] | None) -> dict[str, Any]:
    """Factory arguments from the command line (``--task-args hidden=8 length=20``): each
    value read as a Python literal (number, bool, string, tuple), else kept as a string."""
    out = {}
    for key, text in (pairs or {}).items():
        if not str(key).isidentifier():
            raise ValueError(f"--task-args: {key!r} is not an argument name")
        try:
            out[key] = ast.literal_eval(text) if isinstance(text, str) else text
        except (ValueError, SyntaxError):
            out[key] = text
    return out
