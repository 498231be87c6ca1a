"""A run's identity: everything that decides its numbers, built in one place.

A results folder records its run's identity in ``config.json``; a resume, a reader and every
process of a multi-process run must present the same one. It holds

* the **settings** (a training configuration with its task and optimizer described, the
  hyperparameter values, the base seed, the microbatch; or a script's arguments), and
* the **environment** (:func:`environment`): the rnn_jax version and a hash of its source, the
  jax/jaxlib/optax versions, the backend, the device kind and the CPU model.

Not part of it, because no number depends on them: the number of seeds (a run may grow), the
chunk size, the number of devices and of processes, progress and output flags.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnn_jax._src import imports
from rnn_jax._src.runs import files
from rnn_jax._src.runs.fingerprint import UnfingerprintableError, fingerprint
from rnn_jax._src.tasks import SIZES, USES


@functools.cache
def source_hash() -> str:
    """SHA-256 of rnn_jax's source files (paths and contents): changes with any code change."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


#: The XLA flag that only sets how many CPU devices there are (not part of an identity).
DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"

#: The CPU features XLA:CPU generates code for (a model name like "Intel(R) Xeon(R)
#: Processor" covers CPUs with and without AVX-512, whose float32 results differ).
ISA_FEATURES = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq",
                "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                "amx_tile", "amx_bf16", "amx_int8")  # fmt: skip


def _cpu_features() -> str:
    """The :data:`ISA_FEATURES` this CPU has, space-separated ("" where unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return " ".join(x for x in ISA_FEATURES if x in have)
    except OSError:
        pass
    return ""


def _xla_flags() -> str:
    """``XLA_FLAGS`` as they decide numbers: sorted, without the host device count (results
    do not depend on how many devices a sweep is sharded over)."""
    flags = os.environ.get("XLA_FLAGS", "").split()
    return " ".join(sorted(f for f in flags if not f.startswith(DEVICE_COUNT_FLAG)))


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
    """What decides a run's numbers besides its settings: code, library versions, hardware.

    Float32 results can round differently on another CPU model or library version, so both
    are part of a run's identity (bit-identical results are promised only within one).

    Returns:
      ``{"rnn_jax", "rnn_jax_source_sha256", "jax", "jaxlib", "optax", "backend", "device",
      "cpu", "cpu_features", "xla_flags"}``, all strings: ``cpu_features`` the instruction
      sets XLA:CPU compiles for (:data:`ISA_FEATURES` present), ``xla_flags`` the
      ``XLA_FLAGS`` that can change numbers.
    """
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
        "cpu_features": _cpu_features(),
        "xla_flags": _xla_flags(),
    }


def describe(obj, kind: str = "object") -> str | dict:
    """A task or optimizer as its identity: a name stays a name; an object is ``{"name",
    "fingerprint"}``, the SHA-256 of its code and of everything it captures
    (:func:`rnn_jax.runs.identity.fingerprint`), or ``{"name", "identity"}`` when it
    carries an explicit ``identity`` of its own (a function in it is recorded by its
    fingerprint: :func:`rnn_jax.sequence_task` records its arguments and its data functions
    so, readably).

    Raises:
      ValueError: one line, when the object captures something that cannot be described (the
        run cannot be saved under an identity that would not tell it apart): give the object
        an ``identity``.
    """
    if isinstance(obj, str):
        return obj
    name = getattr(obj, "name", getattr(obj, "__name__", type(obj).__name__))
    explicit = getattr(obj, "identity", None)
    try:
        if explicit is not None:  # functions in it (a builder's data) are fingerprinted
            return {"name": name, "identity": _readable(explicit, f"the {kind} {name!r}")}
        return {"name": name, "fingerprint": fingerprint(obj, f"the {kind} {name!r}")}
    except UnfingerprintableError as e:
        raise ValueError(
            f"cannot save or resume this run: {e}; give the {kind} an explicit identity "
            f'(e.g. {kind}=...(..., identity="{name} v1")) that changes whenever its numbers '
            "would"
        ) from None


def _readable(identity, where: str):
    """An explicit identity as JSON, each function in it replaced by its fingerprint."""
    if callable(identity) and not isinstance(identity, type):
        return {"fingerprint": fingerprint(identity, where)}
    if isinstance(identity, Mapping):
        return {str(k): _readable(v, f"{where}[{k!r}]") for k, v in identity.items()}
    if isinstance(identity, list | tuple):
        return [_readable(v, f"{where}[{i}]") for i, v in enumerate(identity)]
    return files.to_jsonable(identity)


def _named_by(spec, kind: str, resolved) -> str | dict:
    """A task or optimizer as its identity: an import string of a user's module with the
    SHA-256 of that module's source (editing the module changes the run) and the
    :func:`describe` of the object it resolved to (what it captures, from other modules
    too); anything else through :func:`describe`."""
    if imports.is_import_string(spec) and not spec.startswith("optax:"):
        return {
            "import": spec,
            "source_sha256": imports.source_of(spec),
            **describe(resolved, kind),
        }
    return describe(spec, kind)


def train_identity(train) -> dict:
    """The settings of a :func:`rnn_jax.make_train` run: its configuration (only the fields
    its task reads: a seed task its sizes, a task object or factory none of them; not the
    default hyperparameter values, which a sweep records as those it used), with the task
    and the optimizer described (:func:`describe`; an import string with its module's source
    hash and the description of what it resolved to), and the dtype it really uses."""
    config = train.config
    task = config.task
    named = isinstance(task, str) and not imports.is_import_string(task)
    unused = [k for k in SIZES if not named or k not in USES.get(task, SIZES)]
    if not imports.is_import_string(task):
        unused.append("task_args")
    out = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    for k in unused:  # a run records only the settings it used
        del out[k]
    out["task"] = _named_by(config.task, "task", train.task)
    out["optimizer"] = _named_by(config.optimizer, "optimizer", train.optimizer)
    del out["hparams"]  # the values a sweep uses are its own (sweep_identity's hparams)
    out["dtype"] = str(train.dtype)
    return files.to_jsonable(out)


def sweep_identity(train, base_seed: int, microbatch: int, hparams: Mapping[str, Any]) -> dict:
    """Everything that decides a sweep's per-seed results (what a resume or a reader must
    match): the training run, every hyperparameter's value, the base seed, the microbatch and
    the environment.

    Args:
      train: from :func:`rnn_jax.make_train`.
      base_seed: seed ``i`` trains from ``fold_in(key(base_seed), i)``.
      microbatch: seeds per ``vmap`` (see :class:`rnn_jax.runs.Sweep`).
      hparams: every hyperparameter's value in this sweep.
    """
    return {
        "kind": "sweep",
        "train": train_identity(train),
        "task": train.task.name,
        "optimizer": train.optimizer.name,
        "hparams": {k: float(v) for k, v in sorted(hparams.items())},
        "base_seed": int(base_seed),
        "microbatch": int(microbatch),
        "x64": bool(train.dtype == np.float64),
        "environment": environment(),
    }


#: Script arguments that decide no number a run writes.
NOT_IDENTITY = (
    "output",
    "out",
    "resume",
    "overwrite",
    "progress",
    "chunk_size",
    "json",
    "compile_cache",
    "processes",
)


def script_identity(kind: str, args, leave_out=()) -> dict:
    """The identity of a script's run: its ``kind`` (the script), its arguments (a dataclass,
    less :data:`NOT_IDENTITY` and ``leave_out``) and the environment."""
    skip = (*NOT_IDENTITY, *leave_out)
    settings = {k: v for k, v in files.to_jsonable(args).items() if k not in skip}
    return {"kind": kind, "args": settings, "environment": environment()}


def differences(saved: Mapping, wanted: Mapping, prefix: str = "") -> list[str]:
    """Dotted names of the entries where two nested mappings differ.

    Example:
      >>> differences({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}, "d": 0})
      ['b.c', 'd']
    """
    out = []
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out
