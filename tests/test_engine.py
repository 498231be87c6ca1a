"""The engine: a compiled chunk of seeds whose results do not depend on chunking or devices;
its memory, precision and size checks."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_jax import make_train
from rnn_jax.runs import (
    CURVES,
    TABLE,
    files,
    run_sweep,
)
from tests.conftest import N_REFERENCE
from tests.helpers import sha256_of, worker
from tests.sweep_config import TINY


@pytest.mark.slow
def test_chunk_size_and_device_count_do_not_change_any_seed(reference, tmp_path):
    want = [sha256_of(reference / name) for name in (TABLE, CURVES)]
    assert "devices 1" in worker(tmp_path / "c5", N_REFERENCE, 5)
    assert [sha256_of(tmp_path / "c5" / name) for name in (TABLE, CURVES)] == want
    assert "devices 4" in worker(tmp_path / "d4", N_REFERENCE, 8, devices=4)
    assert [sha256_of(tmp_path / "d4" / name) for name in (TABLE, CURVES)] == want
    table = files.read_csv(reference / TABLE)
    np.testing.assert_array_equal(table["seed"], np.arange(N_REFERENCE))


def test_a_sweep_compiles_ahead_of_time_and_reports_its_memory():
    from rnn_jax.runs import Sweep, executable_bytes

    sweep = Sweep(make_train(TINY), 8, microbatch=4)
    compiled = sweep.compile()
    assert isinstance(compiled, jax.stages.Compiled)
    ma = compiled.memory_analysis()
    total = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    assert sweep.memory_bytes() == total > 0
    assert executable_bytes(compiled) == total


def test_float64_really_runs_in_float64_and_is_refused_without_x64():
    train = make_train(dataclasses.replace(TINY, dtype="float64"))
    key = jax.random.key(0)
    with train.precision():
        assert jax.eval_shape(train, key).params.w_rec.dtype == jnp.float64
    with jax.enable_x64(False), pytest.raises(RuntimeError, match="jax_enable_x64 is off"):
        train(key)
    f64 = run_sweep(train, 8, progress=False, microbatch=4)
    f32 = run_sweep(make_train(TINY), 8, progress=False, microbatch=4)
    assert not np.array_equal(f64.table["final_loss"], f32.table["final_loss"])
    # float64 numbers carry more digits than float32 can hold; float32 ones do not
    loss64, loss32 = np.asarray(f64.table["final_loss"]), np.asarray(f32.table["final_loss"])
    assert np.all(loss64.astype(np.float32).astype(np.float64) != loss64)
    assert np.all(loss32.astype(np.float32).astype(np.float64) == loss32)


def test_a_float32_sweep_does_not_depend_on_the_global_x64_setting():
    train = make_train(TINY)
    with jax.enable_x64(True):
        on = run_sweep(train, 8, progress=False, microbatch=4)
    with jax.enable_x64(False):
        off = run_sweep(train, 8, progress=False, microbatch=4)
    for c in on.table:
        np.testing.assert_array_equal(on.table[c], off.table[c])


def test_base_seed_and_seed_counts_are_bounded():
    train = make_train(TINY)
    for bad in (2**32, 2**63, -1, True):
        with pytest.raises(
            ValueError, match=r"base_seed \(--seed\) must be an int in \[0, 2\*\*32\)"
        ):
            run_sweep(train, 4, base_seed=bad, progress=False)
    with pytest.raises(ValueError, match="n_seeds must be <= 2\\*\\*32"):
        run_sweep(train, 2**33, progress=False)
    with pytest.raises(ValueError, match="of host memory for the per-seed results; at most"):
        run_sweep(train, 2**32, progress=False)
    with pytest.raises(ValueError, match="one microbatch of 64 seeds needs at least"):
        run_sweep(make_train(dataclasses.replace(TINY, hidden=100_000)), 4, progress=False)
    # distinct base seeds give distinct tables
    a = run_sweep(train, 4, base_seed=2**32 - 1, progress=False, microbatch=4)
    b = run_sweep(train, 4, base_seed=0, progress=False, microbatch=4)
    assert not np.array_equal(a.table["final_loss"], b.table["final_loss"])
