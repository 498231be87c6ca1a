"""The store: a damaged or edited sweep folder is refused, naming the file and the rule."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from rnn_jax import make_train, runs
from rnn_jax.runs import CURVES, TABLE, files
from tests.helpers import tiny_sweep
from tests.sweep_config import TINY


def _rewrite(out, name, data: bytes):
    """Replaces a file *and* its recorded checksum: only the table's own checks can tell."""
    (out / name).write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))


def _edit_table(column, value, row=0):
    def edit(out):
        table = files.read_csv(out / TABLE)
        table[column] = table[column].astype(object)
        table[column][row] = value
        _rewrite(out, TABLE, files.csv_bytes(table))

    return edit


def _npz(**arrays):
    return lambda out: _rewrite(out, CURVES, files.npz_bytes(**arrays))


def _curve_accuracy(value, row=1):
    def edit(out):
        with np.load(out / CURVES) as z:
            arrays = dict(z)
        arrays["accuracy"][row, -1] = value
        _rewrite(out, CURVES, files.npz_bytes(**arrays))

    return edit


def _huge_header(out):
    """A curves.npz whose header declares ~10**18 floats: refused before any allocation."""
    import io as stdio
    import zipfile

    buf = stdio.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for key, shape in [("seed", (8,)), ("update", (2,)), ("loss", (999999999, 999999999)),
                           ("accuracy", (8, 2))]:  # fmt: skip
            npy = stdio.BytesIO()
            header = {"descr": "<f8", "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(npy, header)
            z.writestr(key + ".npy", npy.getvalue())  # a header and no data
    _rewrite(out, CURVES, buf.getvalue())


EDITS = [
    ("no config", lambda out: (out / "config.json").unlink(), "without a config.json"),
    ("edited, checksum", lambda out: (out / TABLE).write_text("x"), "does not match the checksum"),
    ("accuracy 7.5", _edit_table("accuracy", 7.5), "'accuracy' must be in \\[0, 1\\]"),
    (
        "converged and diverged",
        _edit_table("diverged", 1),
        "must be 0 where diverged is 1|>= 0 exactly",
    ),
    ("converged 0 -> 1", _edit_table("converged", 1, row=1), "consistent with accuracy"),
    ("nan loss", _edit_table("final_loss", "nan"), "finite where not diverged"),
    ("seed order", _edit_table("seed", 5), "seeds 0..7 in order"),
    ("text in a number", _edit_table("first_converged_update", "abc"), "does not hold integers"),
    (
        "curves doubled",
        _npz(
            seed=np.arange(16),
            update=np.array([4, 8]),
            loss=np.zeros((16, 2)),
            accuracy=np.zeros((16, 2)),
        ),
        "does not hold exactly|has shape",
    ),  # fmt: skip
    ("curves huge", _huge_header, r"has shape \(999999999, 999999999\)"),
    ("curve accuracy 1.5", _curve_accuracy(1.5), r"in \[0, 1\] unless bad_accuracy \(row 2\)"),
    ("bad_accuracy without one", _edit_table("bad_accuracy", 1), "bad_accuracy"),
]


def _edit_config(out):
    """The identity edited to another learning rate (a valid JSON file, manifest untouched)."""
    config = json.loads((out / "config.json").read_text())
    config["hparams"]["learning_rate"] = 0.3
    (out / "config.json").write_text(json.dumps(config))


EDITS.append(("config edited", _edit_config, "config.json does not match the checksum|another run"))


@pytest.mark.parametrize("what,edit,match", EDITS, ids=[e[0] for e in EDITS])
def test_resume_and_readers_refuse_a_damaged_or_edited_folder(tmp_path, what, edit, match):
    out = tmp_path / "run"
    tiny_sweep(out)
    edit(out)
    with pytest.raises(ValueError, match=match) as e:
        tiny_sweep(out, resume=True)
    assert "\n" not in str(e.value)
    # a reader validates as a resume does (a missing config.json: the folder holds no run)
    with pytest.raises(ValueError, match=f"{match}|holds no run") as e:
        runs.load_sweep(out)
    assert "\n" not in str(e.value)


def test_a_reader_refuses_a_train_of_other_settings_and_recomputes_the_summary(tmp_path):
    out = tmp_path / "run"
    tiny_sweep(out, 4)
    stale = json.loads((out / "metrics.json").read_text())["summary"]
    with pytest.raises(KeyboardInterrupt):  # growing to 8 seeds stopped after 4 more
        tiny_sweep(out, 12, on_chunk=lambda n: _stop() if n == 8 else None)
    loaded = runs.load_sweep(out)
    assert stale["seeds"] == 4 and loaded.summary["seeds"] == 8 == len(loaded.table["seed"])
    assert loaded.summary["converged"] == int(loaded.table["converged"].sum())
    other = make_train(dataclasses.replace(TINY, optimizer="adam"))
    with pytest.raises(ValueError, match="other settings than the train given"):
        runs.load_sweep(out, other)
    assert runs.load_sweep(out, make_train(TINY)).summary["seeds"] == 8


def _stop():
    raise KeyboardInterrupt


def test_a_stop_before_the_last_commit_continues_on_the_first_try(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # every seed saved, metrics.json not yet
        tiny_sweep(out, 8, on_chunk=lambda n: _stop() if n == 8 else None)
    assert not (out / "metrics.json").exists()
    result = tiny_sweep(out, 8)
    assert result.trained == 0 and result.summary["seeds"] == 8
    assert result.summary["seeds_per_second"] is None
    assert json.loads((out / "metrics.json").read_text())["summary"]["seeds"] == 8
