"""Result files: atomic writes that replace links, the umask, no pickle."""

import os
import stat

import numpy as np
import pytest

from rnn_jax.runs import RunFolder, files
from tests.helpers import ROOT

ID = {"kind": "test", "n": 1}


def test_writes_replace_links_instead_of_following_them(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    out = tmp_path / "out"
    with RunFolder(out, ID) as f:
        (out / "metrics.json").symlink_to(outside)
        f.commit({"metrics.json": b"{}"}, seeds=0)
        (out / "figures").symlink_to(tmp_path)
        with pytest.raises(ValueError, match="is a symbolic link"):
            f.write("figures/a.png", b"png")
    assert outside.read_text() == "precious"
    assert not (out / "metrics.json").is_symlink()
    (tmp_path / "linked").symlink_to(out)
    with pytest.raises(ValueError, match="symbolic link"):
        RunFolder(tmp_path / "linked", ID)


def test_leftover_temporary_files_are_cleaned_and_files_get_the_umask(tmp_path):
    (tmp_path / ".per_seed.csv.1234.0.tmp").write_text("half written")
    old = os.umask(0o027)
    try:
        with RunFolder(tmp_path, ID) as f:
            f.commit({"per_seed.csv": b"x"}, seeds=0)
    finally:
        os.umask(old)
    assert not (tmp_path / ".per_seed.csv.1234.0.tmp").exists()
    assert stat.S_IMODE((tmp_path / "per_seed.csv").stat().st_mode) == 0o640


def test_no_pickle_anywhere(tmp_path):
    """Results are JSON/CSV/NPZ; an NPZ holding a pickled object array is refused."""
    src = "\n".join(p.read_text() for p in (ROOT / "rnn_jax").rglob("*.py"))
    src += "\n".join(p.read_text() for p in (ROOT / "experiments").glob("*.py"))
    assert "import pickle" not in src and "allow_pickle=True" not in src
    np.savez(tmp_path / "evil.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled objects are refused"):
        files.read_npz(tmp_path / "evil.npz")


def test_only_regular_files_are_read_and_tables_parse_by_column(tmp_path):
    os.mkfifo(tmp_path / "fifo")  # a FIFO would block a plain open: refused, not waited on
    with pytest.raises(files.FileError, match="is not a regular file"):
        files.read_bytes(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    with pytest.raises(files.FileError, match="is not a regular file|cannot be read"):
        files.read_bytes(tmp_path / "dir")
    t = files.parse_csv(b"i,f,s\n1,0.5,x\n2,1,7\n", "t")
    assert t["i"].dtype == np.int64 and t["f"].dtype == np.float64 and t["s"].tolist() == ["x", "7"]
    with pytest.raises(files.FileError, match="different number of fields"):
        files.parse_csv(b"a,b\n1\n", "t")
