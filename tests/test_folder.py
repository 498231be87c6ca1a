"""A results folder as a record: one writer, checksummed commits that survive a kill."""

import hashlib
import json
import os
import signal
import subprocess
import sys

import pytest

from rnn_jax._src.runs.folder import MANIFEST
from rnn_jax.runs import RunFolder, RunFolderError
from tests.helpers import ROOT

ID = {"kind": "test", "n": 1}


def _holder(path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "rundir_holder.py"), str(path)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.slow
def test_one_writer_per_folder_and_a_dead_writers_lock_is_released(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(RunFolderError, match=rf"is being written by process {proc.pid} on "):
            RunFolder(tmp_path, {"kind": "holder"})
        with pytest.raises(RunFolderError, match="still being written"):
            RunFolder.existing(tmp_path)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    with RunFolder(tmp_path, {"kind": "holder"}) as folder:  # the lock died with it
        assert folder.seeds == 0


def test_commit_checksums_and_a_fresh_folder_refuses_to_be_overwritten(tmp_path):
    with RunFolder(tmp_path, ID) as f:
        f.commit({"per_seed.csv": b"seed\n0\n", "curves.npz": b"x"}, seeds=1)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["seeds"] == 1
    assert manifest["files"]["per_seed.csv"] == hashlib.sha256(b"seed\n0\n").hexdigest()
    with pytest.raises(RunFolderError, match=r"holds another run \(it differs in n\); choose "):
        RunFolder(tmp_path, {**ID, "n": 2})
    with RunFolder(tmp_path, ID) as f:  # the same run: opened again, to continue
        assert f.existed and f.seeds == 1
        assert f.read("per_seed.csv", 100) == b"seed\n0\n"
        with pytest.raises(ValueError, match="is 7 bytes, more than the 4 it can hold"):
            f.read("per_seed.csv", 4)


def test_an_edited_file_is_refused_and_its_contents_never_echoed(tmp_path):
    with RunFolder(tmp_path, ID) as f:
        f.commit({"per_seed.csv": b"seed,converged\n0,0\n"}, seeds=1)
    (tmp_path / "per_seed.csv").write_bytes(b"seed,converged\n0,1\n")
    with pytest.raises(RunFolderError, match="does not match the checksum") as e:
        RunFolder(tmp_path, ID)
    assert "0,1" not in str(e.value)
    (tmp_path / MANIFEST).write_text('{"format": 1, "seeds": "\\u001b[2J", "files": {}}')
    with pytest.raises(RunFolderError, match="is not a manifest rnn_jax wrote") as e:
        RunFolder(tmp_path, ID)
    assert "\x1b" not in str(e.value)


def test_results_without_a_config_or_a_broken_config_are_refused(tmp_path):
    (tmp_path / "per_seed.csv").write_text("seed\n0\n")
    with pytest.raises(RunFolderError, match="results without a config.json"):
        RunFolder(tmp_path, ID)
    (tmp_path / "per_seed.csv").unlink()
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config.json is not valid JSON \(line 1\)"):
        RunFolder(tmp_path, ID)


@pytest.mark.parametrize("moment", ["pending written", "manifest written", "half renamed"])
def test_a_commit_killed_at_any_moment_recovers(tmp_path, monkeypatch, moment):
    """Kill (simulated: an exception out of the commit) after each of its steps; reopening
    gives the previous commit or the new one, never a mix, and no leftover files."""
    old = {"per_seed.csv": b"old table", "curves.npz": b"old curves"}
    new = {"per_seed.csv": b"new table", "curves.npz": b"new curves"}
    with RunFolder(tmp_path, ID) as f:
        f.commit(old, seeds=4)
    calls = {"n": 0}
    real_replace = os.replace

    def replace(src, dst):
        calls["n"] += 1
        stop = {"pending written": 2, "manifest written": 3, "half renamed": 4}[moment]
        if calls["n"] > stop:  # the atomic writes rename too: count every rename
            raise KeyboardInterrupt("killed")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with RunFolder(tmp_path, ID) as f, pytest.raises(KeyboardInterrupt):
        f.commit(new, seeds=8)
    monkeypatch.setattr(os, "replace", real_replace)
    with RunFolder(tmp_path, ID) as f:
        want = old if moment == "pending written" else new
        assert f.seeds == (4 if want is old else 8)
        for name, data in want.items():
            assert f.read(name, 100) == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".lock", "config.json", "curves.npz", "manifest.json", "per_seed.csv",
    ]  # fmt: skip


def test_a_reader_holding_the_lock_is_reported_as_a_reader(tmp_path):
    with RunFolder(tmp_path, ID) as f:
        f.commit({"a.csv": b"x\n"}, seeds=1)
    with RunFolder.existing(tmp_path):  # a reader's shared lock
        with pytest.raises(RunFolderError, match="is being read by another process"):
            RunFolder(tmp_path, ID)
    (tmp_path / ".lock").unlink()
    os.mkfifo(tmp_path / ".lock")  # a FIFO where the lock should be: refused, not waited on
    with pytest.raises(RunFolderError, match="is not a lock file"):
        RunFolder(tmp_path, ID)
    with pytest.raises(RunFolderError, match="is not a lock file"):
        RunFolder.existing(tmp_path)
