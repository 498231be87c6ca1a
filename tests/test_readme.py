"""The README's examples run as written (with fewer seeds)."""

import re
import subprocess
import sys
from pathlib import Path

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
    r = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
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
