"""Running sweeps: resume after a kill, growing a run, refusing another run's folder,
argument checks."""

import signal

import numpy as np
import pytest

from rnn_jax import make_train, runs
from rnn_jax.runs import TABLE, files, run_sweep
from tests.conftest import N_REFERENCE
from tests.helpers import run_worker, sha256_of, tiny_sweep, worker
from tests.sweep_config import TINY


@pytest.mark.slow
def test_resume_after_sigkill_equals_uninterrupted(reference, tmp_path):
    out = tmp_path / "killed"
    r = run_worker(out, N_REFERENCE, 4, "--signal-at", "12", "KILL")  # killed right after 3 chunks
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    partial = files.read_csv(out / TABLE)
    np.testing.assert_array_equal(partial["seed"], np.arange(12))
    worker(out, N_REFERENCE, 4)
    assert sha256_of(out / TABLE) == sha256_of(reference / TABLE)
    curves = files.read_npz(out / "curves.npz")
    np.testing.assert_array_equal(curves["seed"], np.arange(N_REFERENCE))


def _folder_bytes(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_the_same_run_twice_is_reused_and_another_run_is_refused(tmp_path):
    train = make_train(TINY)
    kw = dict(chunk_size=4, out_dir=tmp_path / "run", progress=False, microbatch=4)
    first = run_sweep(train, 8, **kw)
    before = _folder_bytes(tmp_path / "run")
    started = []
    again = run_sweep(train, 8, on_start=started.append, **kw)  # nothing to train
    assert started == [] and again.trained == 0 and first.trained == 8
    assert _folder_bytes(tmp_path / "run") == before
    for c in first.table:
        np.testing.assert_array_equal(first.table[c], again.table[c])
    # fewer seeds: the first ones, from the folder, which is left as it is
    four = run_sweep(train, 4, on_start=started.append, **kw)
    assert started == [] and four.summary["seeds"] == 4
    np.testing.assert_array_equal(four.table["final_loss"], first.table["final_loss"][:4])
    assert _folder_bytes(tmp_path / "run") == before
    # another run: refused, naming what differs; nothing changes
    with pytest.raises(
        ValueError, match=r"holds another run \(it differs in hparams.learning_rate"
    ):
        run_sweep(train, 8, hparams={"learning_rate": 0.1}, **kw)
    assert _folder_bytes(tmp_path / "run") == before


def test_overwrite_moves_the_other_run_aside_and_never_deletes_it(tmp_path):
    train = make_train(TINY)
    kw = dict(chunk_size=4, out_dir=tmp_path / "run", progress=False, microbatch=4)
    run_sweep(train, 4, **kw)
    before = _folder_bytes(tmp_path / "run")
    r = run_sweep(train, 4, hparams={"learning_rate": 0.1}, overwrite=True, **kw)
    (old,) = [p for p in tmp_path.iterdir() if p.name.startswith("run.replaced-")]
    assert _folder_bytes(old) == before  # the old run, whole, under a clear name
    assert r.hparams["learning_rate"] == 0.1 and r.trained == 4
    assert runs.load_sweep(old).hparams["learning_rate"] == 0.05


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_seeds=0), "n_seeds"),
        (dict(n_seeds=-5), "n_seeds"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(base_seed=-1), "base_seed"),
    ],
)
def test_bad_sweep_arguments(kwargs, match):
    args = dict(n_seeds=4, chunk_size=4)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        run_sweep(make_train(TINY), args.pop("n_seeds"), progress=False, **args)


def test_growing_the_seeds_on_resume_keeps_the_first_ones(tmp_path):
    tiny_sweep(tmp_path / "grow", 8)
    first = (tmp_path / "grow" / TABLE).read_text().splitlines()
    tiny_sweep(tmp_path / "grow", 16)  # the same run with more seeds: the first 8 are kept
    tiny_sweep(tmp_path / "once", 16)
    grown = (tmp_path / "grow" / TABLE).read_bytes()
    assert grown == (tmp_path / "once" / TABLE).read_bytes()
    assert grown.decode().splitlines()[: len(first)] == first


# (what, call, exception, the message must contain)
BAD_INPUTS = [
    (
        "sweep seeds 0",
        lambda: run_sweep(make_train(TINY), 0, progress=False),
        ValueError,
        "n_seeds",
    ),
    (
        "sweep chunk 0",
        lambda: run_sweep(make_train(TINY), 4, chunk_size=0, progress=False),
        ValueError,
        "chunk_size",
    ),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
