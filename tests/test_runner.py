"""Running sweeps: resume after a kill, growing a run, refusing another run's folder,
argument checks."""

import signal

import numpy as np
import pytest

from rnn_jax import make_train
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
    worker(out, N_REFERENCE, 4, "--resume")
    assert sha256_of(out / TABLE) == sha256_of(reference / TABLE)
    curves = files.read_npz(out / "curves.npz")
    np.testing.assert_array_equal(curves["seed"], np.arange(N_REFERENCE))


def test_existing_out_dir_is_not_overwritten_and_config_must_match(tmp_path):
    train = make_train(TINY)
    kw = dict(chunk_size=4, out_dir=tmp_path, progress=False, microbatch=4)
    run_sweep(train, 4, **kw)
    before = sha256_of(tmp_path / TABLE)
    with pytest.raises(ValueError, match="already holds a run"):
        run_sweep(train, 4, **kw)
    with pytest.raises(ValueError, match="another identity"):
        run_sweep(train, 4, hparams={"learning_rate": 0.1}, resume=True, **kw)
    assert sha256_of(tmp_path / TABLE) == before
    # resuming a finished sweep changes nothing
    r = run_sweep(train, 4, resume=True, **kw)
    assert sha256_of(tmp_path / TABLE) == before
    assert r.summary["seeds"] == 4


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
    tiny_sweep(tmp_path / "grow", 16, resume=True)
    tiny_sweep(tmp_path / "once", 16)
    grown = (tmp_path / "grow" / TABLE).read_bytes()
    assert grown == (tmp_path / "once" / TABLE).read_bytes()
    assert grown.decode().splitlines()[: len(first)] == first
    with pytest.raises(ValueError, match="holds 16 seeds; n_seeds 8 asks for fewer"):
        tiny_sweep(tmp_path / "grow", 8, resume=True)


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
