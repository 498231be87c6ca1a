"""The README's examples run as written (with fewer seeds)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_XLA_FLAGS

ROOT = Path(__file__).resolve().parents[1]


def _block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_your_own_study_example_runs(tmp_path):
    code = _block("## Your own study")
    assert len(code.splitlines()) <= 30
    assert "n_seeds = 1000\n" in code
    script = tmp_path / "study.py"
    script.write_text(code.replace("n_seeds = 1000\n", "n_seeds = 16\n"))
    # Under XLA's default flags, as a user runs it (conftest lowers them for the other tests).
    flags = os.environ.get("XLA_FLAGS", "").replace(TEST_XLA_FLAGS, "").strip()
    env = {**os.environ, "XLA_FLAGS": flags}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=600, cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    pattern = r"(\w+) / (\w+): (\d+)/16 converged, rate [\d.]+ \[95% CI [\d.]+, [\d.]+\]"
    got = [re.fullmatch(pattern, ln).group(1, 2) for ln in lines]
    assert got == [
        ("binary_addition", "rmsprop_nesterov"),
        ("binary_addition", "lion"),
        ("parity", "adam"),
    ]
    parity = int(re.fullmatch(pattern, lines[2]).group(3))
    assert parity >= 10  # the LSTM learns 4-bit parity from most seeds


def test_readme_result_tables_are_the_committed_study_outputs():
    """Every ``<!-- begin docs/... -->`` block of the README is that file's text, and that file
    is what the study writes (its table header is the one study.py produces)."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- begin (\S+) -->\n(.*?)<!-- end \1 -->", text, re.S)
    assert blocks, "the README shows no committed result table"
    for name, body in blocks:
        assert body == (ROOT / name).read_text(), f"README's copy of {name} differs"
    spec = importlib.util.spec_from_file_location(
        "study_for_readme", ROOT / "experiments" / "study.py"
    )
    study = sys.modules["study_for_readme"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    row = dict(optimizer="rmsprop_nesterov", learning_rate=0.1, converged=1, seeds=2, rate=0.5,
               ci_low=0.1, ci_high=0.9, diverged=0, median_steps=5.0, vs_first=None)  # fmt: skip
    header = study.table([row]).splitlines()[0]
    study_md = (ROOT / "docs" / "results" / "study.md").read_text()
    assert header in study_md.splitlines()
