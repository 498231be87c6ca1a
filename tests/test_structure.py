"""The package's shape: one public path per name, documented exports whose cross-references
resolve, no private JAX, no module-level mutable state in the runs layer."""

import ast
import copy
import importlib
import inspect
import pkgutil
import re
import types
from pathlib import Path

import pytest

import rnn_jax
import rnn_jax.runs
import rnn_jax.runs.plots
from tests.helpers import ROOT, tiny_sweep

#: The public namespaces: the top level, its family modules, the runs layer and its modules.
PUBLIC = [
    "rnn_jax",
    "rnn_jax.cells",
    "rnn_jax.datasets",
    "rnn_jax.losses",
    "rnn_jax.models",
    "rnn_jax.reference",
    "rnn_jax.stats",
    "rnn_jax.tasks",
    "rnn_jax.runs",
    "rnn_jax.runs.cli",
    "rnn_jax.runs.files",
    "rnn_jax.runs.identity",
    "rnn_jax.runs.plots",
]

#: Docstring section headings (Google style, as optax): nothing else ends a line with ":".
SECTIONS = {"Args", "Returns", "Raises", "Example", "References", "Attributes", "Note"}


def _exports():
    """``(path, object)`` of every public name that is not a module."""
    out = []
    for name in PUBLIC:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if not isinstance(obj, types.ModuleType):
                out.append((f"{name}.{attr}", obj))
    return out


def test_every_public_namespace_lists_exactly_what_it_exports():
    for name in PUBLIC:
        module = importlib.import_module(name)
        assert sorted(module.__all__) == module.__all__, name
        public = {
            k
            for k, v in vars(module).items()
            if not k.startswith("_")
            and k != "annotations"
            and not (isinstance(v, types.ModuleType) and v.__name__ in PUBLIC)  # lazy: plots
        }
        assert public <= set(module.__all__), (name, public - set(module.__all__))


def test_each_public_object_has_one_public_path():
    paths = {}
    for path, obj in _exports():
        if isinstance(obj, str | int | float | tuple | frozenset) and not callable(obj):
            continue  # constants: equal values may be distinct names
        paths.setdefault(id(obj), []).append(path)
    twice = [p for p in paths.values() if len(p) > 1]
    assert not twice, twice


def _docstrings():
    for name in PUBLIC:
        module = importlib.import_module(name)
        yield name, module.__doc__ or ""
    for path, obj in _exports():
        if callable(obj):
            yield path, inspect.getdoc(obj) or ""
            for attr in vars(obj) if isinstance(obj, type) else ():
                member = getattr(obj, attr)
                if not attr.startswith("_") and callable(member) and member.__doc__:
                    yield f"{path}.{attr}", inspect.getdoc(member)


def test_every_exported_callable_has_a_docstring():
    missing = [path for path, obj in _exports() if callable(obj) and not inspect.getdoc(obj)]
    assert not missing, missing


def _resolve(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_docstring_cross_references_resolve_and_point_at_public_paths():
    bad = []
    for where, doc in _docstrings():
        for ref in re.findall(r"\brnn_jax(?:\.[A-Za-z_]\w*)+", doc):
            if "._src" in ref or not _resolve(ref):
                bad.append((where, ref))
    assert not bad, bad


def test_docstrings_use_one_set_of_section_headings():
    bad = []
    for where, doc in _docstrings():
        for line in doc.splitlines():
            m = re.fullmatch(r"\s*([A-Z][a-z]+(?: [a-z]+)?)(?: \([^)]*\))?:{1,2}\s*", line)
            if m and m.group(1) not in SECTIONS:
                bad.append((where, line.strip()))
            if m and line.rstrip().endswith("::"):
                bad.append((where, line.strip()))
    assert not bad, bad


def _sources(folder: Path):
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_private_jax_and_no_global_statements():
    for path in [*_sources(ROOT / "rnn_jax"), *_sources(ROOT / "experiments")]:
        text = path.read_text()
        assert not re.search(r"(?<![\w.])jax\._src", text), path
        tree = ast.parse(text)
        assert not any(isinstance(n, ast.Global | ast.Nonlocal) for n in ast.walk(tree)), path


def _runs_modules():
    import rnn_jax._src.runs as runs_src

    return [
        importlib.import_module(f"rnn_jax._src.runs.{m.name}")
        for m in pkgutil.iter_modules(runs_src.__path__)
    ]


def test_the_runs_layer_assigns_no_mutable_module_state():
    """Statically: no module of the runs layer binds a list, dict or set at module level."""
    for module in _runs_modules():
        tree = ast.parse(Path(module.__file__).read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
                node.value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp
            ):
                pytest.fail(f"{module.__name__}: module-level mutable {ast.unparse(node)[:60]}")


PLAIN = (int, float, str, bytes, bool, tuple, list, dict, set, frozenset, type(None))


def test_a_sweep_into_a_folder_changes_no_module_global(tmp_path):
    """Dynamically: every module global of the runs layer is the same object with the same
    value after a sweep that opens, writes, resumes and reads a folder."""

    def snapshot():
        state = {}
        for module in _runs_modules():
            for k, v in vars(module).items():
                if k.startswith("__") or isinstance(
                    v, types.ModuleType | types.FunctionType | type
                ):
                    continue
                plain = isinstance(v, PLAIN) and not callable(v)
                state[module.__name__, k] = (id(v), copy.deepcopy(v) if plain else None)
        return state

    before = snapshot()
    tiny_sweep(tmp_path / "run", 4)
    tiny_sweep(tmp_path / "run", 8, resume=True)
    rnn_jax.runs.load_sweep(tmp_path / "run")
    after = snapshot()
    assert before.keys() == after.keys()
    changed = [k for k in before if before[k][0] != after[k][0] or before[k][1] != after[k][1]]
    assert not changed, changed
