"""The README runs as written: every Python block (with fewer seeds); the result tables in
docs/ are the files the scripts wrote."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import TEST_XLA_FLAGS
from rnn_jax import runs, stats
from tests.helpers import HANG_S

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    """Runs ``code`` as a script in ``tmp_path`` under XLA's default flags, as a user runs it
    (the root conftest lowers them for the other tests)."""
    script = tmp_path / "block.py"
    script.write_text(code)
    flags = os.environ.get("XLA_FLAGS", "").replace(TEST_XLA_FLAGS, "").strip()
    env = {**os.environ, "XLA_FLAGS": flags}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=HANG_S, cwd=tmp_path, env=env)  # fmt: skip


def test_the_readme_is_a_short_guide():
    assert len(README.splitlines()) <= 200
    assert len(BLOCKS) == 2, "a new Python block needs its own test below"


@pytest.mark.slow
def test_using_it_runs(tmp_path):
    (code,) = [b for b in BLOCKS if "rj.unroll(cell, params, xs" in b]
    r = _run(code, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    rate, shape = r.stdout.split(" ", 1)
    assert 0 <= float(rate) <= 1 and shape.strip() == "(64, 5)"


@pytest.mark.slow
def test_your_own_study_runs(tmp_path):
    (code,) = [b for b in BLOCKS if "n_seeds = 1000\n" in b]
    assert len(code.splitlines()) <= 30
    task = code[code.index("# Your task") : code.index("for config")]
    assert len(task.strip().splitlines()) <= 15  # delayed recall in at most 15 lines
    r = _run(code.replace("n_seeds = 1000\n", "n_seeds = 16\n"), tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    pattern = r"(\w+) / (\w+): (\d+)/16 converged, rate [\d.]+ \[95% CI [\d.]+, [\d.]+\]"
    got = [re.fullmatch(pattern, ln).group(1, 2) for ln in lines]
    assert got == [
        ("binary_addition", "rmsprop_nesterov"),
        ("binary_addition", "lion"),
        ("delayed_recall", "adam"),
    ]
    recall = int(re.fullmatch(pattern, lines[2]).group(3))
    assert recall >= 8  # the GRU learns delayed recall from most seeds (~3/4 of them)


def test_result_tables_are_the_committed_study_outputs():
    """Every ``<!-- begin docs/... -->`` block of the docs is that file's text, and the study's
    file is what the study writes (its table header is the one study.py produces)."""
    blocks = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text()
        blocks += re.findall(r"<!-- begin (\S+) -->\n(.*?)<!-- end \1 -->", text, re.S)
    assert {name for name, _ in blocks} >= {
        "docs/results/study.md",
        "docs/results/capacity_budget.md",
    }
    for name, body in blocks:
        assert body == (ROOT / name).read_text(), f"the docs' copy of {name} differs"
    spec = importlib.util.spec_from_file_location(
        "study_for_readme", ROOT / "experiments" / "study.py"
    )
    study = sys.modules["study_for_readme"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    table = {"converged": np.array([1, 0]), "diverged": np.array([0, 0])}
    summary = {**stats.summarize({**table, "first_converged_update": np.array([5, -1]),
                                  "final_loss": np.ones(2), "accuracy": np.ones(2)})}  # fmt: skip
    sweep = runs.SweepResult(table, {}, summary, {"learning_rate": 0.05})
    grid = runs.GridResult([{"optimizer": "rmsprop_nesterov"}], [sweep])
    header = grid.markdown(study.COLUMNS).splitlines()[0]
    study_md = (ROOT / "docs" / "results" / "study.md").read_text()
    assert header in study_md.splitlines()


def test_links_in_the_readme_and_docs_resolve():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), (page.name, target)
