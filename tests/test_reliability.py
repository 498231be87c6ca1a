"""Bad input gets a clear error naming the argument; properties hold on random inputs."""

import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnn_jax as rj
from rnn_jax import TrainConfig, losses, make_train, models, run_sweep
from rnn_jax import datasets as tasks
from tests.sweep_config import TINY, TINY_FLAGS

ROOT = Path(__file__).resolve().parents[1]
KEY = jax.random.key(0)
P = rj.cells.tanh.init(KEY, 2, 3, jnp.float64)
XS = jnp.ones((4, 5, 2), jnp.float64)

# (what, call, exception, the message must contain)
BAD_INPUTS = [
    ("xs rank 2", lambda: rj.unroll(rj.cells.tanh, P, XS[0]), ValueError, "xs must have rank 3"),
    (
        "xs features",
        lambda: rj.unroll(rj.cells.tanh, P, jnp.ones((4, 5, 3))),
        ValueError,
        "features",
    ),
    (
        "empty sequence",
        lambda: rj.unroll(rj.cells.tanh, P, jnp.ones((4, 0, 2))),
        ValueError,
        "at least one",
    ),
    (
        "mask shape",
        lambda: rj.unroll(rj.cells.tanh, P, XS, mask=jnp.ones((4, 6), bool)),
        ValueError,
        "mask must have shape",
    ),
    (
        "lengths shape",
        lambda: rj.unroll(rj.cells.tanh, P, XS, lengths=jnp.ones(3, jnp.int32)),
        ValueError,
        "lengths must have shape",
    ),
    (
        "float lengths",
        lambda: rj.unroll(rj.cells.tanh, P, XS, lengths=jnp.ones(4)),
        TypeError,
        "lengths must be integers",
    ),
    (
        "carry0 shape",
        lambda: rj.unroll(rj.cells.tanh, P, XS, jnp.ones((5, 3))),
        ValueError,
        "carry0 must have shape",
    ),
    (
        "dtype mismatch",
        lambda: rj.unroll(rj.cells.tanh, P, XS.astype(jnp.float32)),
        TypeError,
        "dtype",
    ),
    ("unknown cell", lambda: rj.CELLS["elman"], ValueError, "cell must be one of"),
    ("key not a key", lambda: tasks.binary_addition(42, 10), TypeError, "key must be"),
    ("bits too large", lambda: tasks.binary_addition(KEY, 10, bits=31), ValueError, "bits"),
    ("all pairs too many", lambda: tasks.all_addition_pairs(11), ValueError, "bits"),
    ("n = 0", lambda: tasks.counting_ones(KEY, 0, 10), ValueError, "n must be"),
    ("vocab 1", lambda: models.tagger_init(KEY, vocab=1), ValueError, "vocab"),
    ("counter rank", lambda: models.counter_apply(models.counter_init(), XS), ValueError, "xs"),
    (
        "loss mask",
        lambda: losses.mse(jnp.ones(3), jnp.ones(3), jnp.ones(2, bool)),
        ValueError,
        "mask",
    ),
    (
        "float labels",
        lambda: losses.softmax_cross_entropy(jnp.ones((2, 3)), jnp.ones(2)),
        TypeError,
        "labels",
    ),
    ("rprop lr 0", lambda: rj.rprop(0.0), ValueError, "learning_rate"),
    ("rprop eta_minus", lambda: rj.rprop(eta_minus=1.5), ValueError, "eta_minus"),
    ("rprop eta_plus", lambda: rj.rprop(eta_plus=0.9), ValueError, "eta_plus"),
    (
        "rprop min > max",
        lambda: rj.rprop(min_step_size=2.0, max_step_size=1.0),
        ValueError,
        "min_step_size",
    ),
    ("rprop variant", lambda: rj.rprop(variant="iRprop"), ValueError, "variant"),
    ("rmsprop momentum 1", lambda: rj.rmsprop_nesterov(momentum=1.0), ValueError, "momentum"),
    ("rmsprop decay -1", lambda: rj.rmsprop_nesterov(decay=-1.0), ValueError, "decay"),
    ("rmsprop lr nan", lambda: rj.rmsprop_nesterov(float("nan")), ValueError, "learning_rate"),
    ("config task", lambda: TrainConfig(task="parity"), ValueError, "task"),
    ("config optimizer", lambda: TrainConfig(optimizer="lbfgs"), ValueError, "optimizer"),
    (
        "config lr inf",
        lambda: TrainConfig(hparams={"learning_rate": float("inf")}),
        ValueError,
        "learning_rate",
    ),
    ("config hidden 0", lambda: TrainConfig(hidden=0), ValueError, "hidden"),
    ("config bool size", lambda: TrainConfig(epochs=True), TypeError, "epochs"),
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
    ("hparam name", lambda: make_train(TINY)(KEY, {"lr": 1.0}), ValueError, "hparams"),
    (
        "gradcheck float32",
        lambda: rj.numerical_grad(jnp.sum, jnp.ones(3, jnp.float32)),
        TypeError,
        "float64",
    ),
]


@pytest.mark.parametrize("what,call,exc,match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_clear_error(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


CLI_BAD = [
    ("convergence_sweep", ["--seeds", "0"], "n_seeds"),
    ("convergence_sweep", ["--optimizer", "lbfgs"], "optimizer"),
    ("convergence_sweep", ["--task", "parity"], "task"),
    ("convergence_sweep", ["--seeds", "many"], "--seeds"),
    ("convergence_sweep", ["--hparams", "momentum", "1.5"], "momentum"),
    ("convergence_sweep", ["--seeds", str(10**12)], "n_seeds must be <= 2**32"),
    ("convergence_sweep", ["--seeds", str(4 * 10**9)], "needs"),
    ("convergence_sweep", ["--chunk-size", str(10**9), "--seeds", str(10**9)], "needs"),
    ("convergence_sweep", ["--hidden", "100000", "--seeds", "8"], "needs at least"),
    ("convergence_sweep", ["--seed", str(2**32)], "base_seed"),
    ("convergence_sweep", ["--seed", str(2**63)], "base_seed"),
    ("convergence_sweep", ["--batch-size", "30"], "batch_size"),
    ("convergence_sweep", ["--grid", "learning_rate=nan"], "learning_rate"),
    ("convergence_sweep", ["--grid", "learning_rate=inf"], "learning_rate"),
    ("convergence_sweep", ["--grid", "learning_rate=-1"], "learning_rate"),
    ("convergence_sweep", ["--grid", "learning_rate="], "learning_rate"),
    ("convergence_sweep", ["--grid-optimizers"], "--grid-optimizers"),
    ("convergence_sweep", ["--grid-hidden"], "--grid-hidden"),
    ("convergence_sweep", ["--out", ""], "empty"),
    ("convergence_sweep", ["--out", "{tmp}/file"], "not a folder"),
    ("convergence_sweep", ["--out", "{tmp}/file/under"], "not a folder"),
    ("convergence_sweep", ["--out", "/dev/null"], "not a folder"),
    ("convergence_sweep", ["--out", "/proc/rnn_jax"], "cannot be created"),
    ("convergence_sweep", ["--cache-dir", "{tmp}/file"], "--cache-dir"),
    ("binary_addition", ["--optimizer", "lbfgs"], "optimizer"),
    ("counting_ones", ["--steps", "0"], "--steps"),
    ("next_number", ["--epochs", "0"], "--epochs"),
    ("study", ["--optimizers", "lbfgs"], "optimizers"),
]


@pytest.mark.parametrize(
    "script,argv,match", CLI_BAD, ids=[f"{c[0]} {' '.join(c[1])}" for c in CLI_BAD]
)
def test_cli_bad_input_exits_2_with_one_line(script, argv, match, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "o")]
    r = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / f"{script}.py"), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and match in lines[0], r.stderr
    assert (tmp_path / "file").read_text() == "a file, not a folder"
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def _json_sweep(tmp_path, *extra):
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "convergence_sweep.py"),
        "--seeds",
        "4",
        "--chunk-size",
        "4",
        *TINY_FLAGS,
        "--no-progress",
        "--out",
        str(tmp_path),
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


_PEER_FAILURE = """
import sys
from rnn_jax import cli
from rnn_jax._src import distributed
if sys.argv[1] == "joined":  # as after distributed.initialize in a 2-process run
    distributed._STATE.update(processes=2, index=0)
def main(argv):  # what a Gloo collective raised when its peer was killed (JAX 0.10)
    raise ValueError("UNKNOWN: Gloo AllGather failed: [pair.cc:547] Connection closed by peer")
cli.script(main)
"""


@pytest.mark.parametrize("state,rc,line", [
    ("joined", 3, "error: another process of this run stopped"),
    ("alone", 2, "error: UNKNOWN: Gloo AllGather failed"),
])  # fmt: skip
def test_a_peer_failure_is_told_by_its_message_whatever_its_class(state, rc, line):
    r = subprocess.run([sys.executable, "-c", _PEER_FAILURE, state], capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert r.returncode == rc, r.stderr[-2000:]
    assert r.stderr.startswith(line) and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_damaged_folders_and_other_studies_are_one_line_errors(tmp_path):
    """A corrupted config.json and a study into a folder holding another kind of run: exit 2,
    one line naming the file, nothing changed (damaged data files: tests/test_sweep.py)."""
    run = tmp_path / "run"
    assert _json_sweep(run).returncode == 0
    files = lambda: {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}  # noqa: E731
    before = files()

    (run / "config.json").write_text('{"kind": ')
    r = _json_sweep(run, "--resume")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "config.json" in r.stderr and "not valid JSON" in r.stderr, r.stderr
    (run / "config.json").write_bytes(before["config.json"])

    study = [sys.executable, str(ROOT / "experiments" / "study.py"), "--out", str(run)]
    r = subprocess.run(study, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "already holds a run; rerun with --resume" in r.stderr, r.stderr
    r = subprocess.run([*study, "--resume"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "holds a run of another identity (differs in" in r.stderr, r.stderr
    assert files() == before


def test_cli_refuses_an_out_dir_with_another_config(tmp_path):
    assert _json_sweep(tmp_path).returncode == 0
    before = (tmp_path / "per_seed.csv").read_bytes()
    r = _json_sweep(tmp_path, "--resume", "--hidden", "4")
    assert (
        r.returncode == 2
        and "holds a run of another identity (differs in train.hidden)" in r.stderr
    )
    assert (tmp_path / "per_seed.csv").read_bytes() == before


def test_no_pickle_anywhere(tmp_path):
    """Results are JSON/CSV/NPZ; an NPZ holding a pickled object array is refused."""
    src = "\n".join(p.read_text() for p in (ROOT / "rnn_jax").rglob("*.py"))
    src += "\n".join(p.read_text() for p in (ROOT / "experiments").glob("*.py"))
    assert "import pickle" not in src and "allow_pickle=True" not in src
    np.savez(tmp_path / "evil.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled objects are refused"):
        rj.io.read_npz(tmp_path / "evil.npz")


# ------------------------------------------------------------------ property tests (hypothesis)

leaf_shapes = st.lists(
    st.lists(st.integers(1, 4), min_size=0, max_size=2).map(tuple), min_size=1, max_size=3
)


@settings(max_examples=6, deadline=None)
@given(
    shapes=leaf_shapes,
    seed=st.integers(0, 2**16),
    variant=st.sampled_from(rj.RPROP_VARIANTS),
    scale=st.floats(1e-3, 1e3),
)
def test_rprop_updates_finite_and_within_bounds(shapes, seed, variant, scale):
    lo, hi = 1e-4, 0.5
    opt = rj.scale_by_rprop(0.01, min_step_size=lo, max_step_size=hi, variant=variant)
    keys = jax.random.split(jax.random.key(seed), len(shapes) * 8).reshape(8, len(shapes))
    params = [jnp.zeros(s) for s in shapes]
    state = opt.init(params)
    for t in range(8):
        g = [scale * jax.random.normal(k, s) for k, s in zip(keys[t], shapes)]
        u, state = opt.update(g, state, params, value=jnp.asarray(float(t % 3)))
        chex.assert_tree_all_finite(u)
        for leaf, step in zip(u, state.step_sizes):
            assert float(jnp.max(jnp.abs(leaf), initial=0.0)) <= hi + 1e-12
            assert float(jnp.min(step, initial=hi)) >= lo - 1e-12


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    mu=st.floats(0.0, 0.95),
    decay=st.floats(0.0, 0.99),
)
def test_rmsprop_nesterov_finite(seed, shape, mu, decay):
    opt = rj.rmsprop_nesterov(0.05, decay=decay, momentum=mu)
    p = jax.random.normal(jax.random.key(seed), shape)
    s = opt.init(p)
    for t in range(5):
        g = jax.random.normal(jax.random.key(seed + t + 1), shape) * 10.0**t
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
        chex.assert_tree_all_finite((u, s.nu, s.velocity))


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    b=st.integers(1, 4),
    t=st.integers(1, 6),
    f=st.integers(1, 3),
    h=st.integers(1, 4),
    name=st.sampled_from(sorted(rj.CELLS)),
)
def test_unroll_masks_inert_on_random_shapes(seed, b, t, f, h, name):
    cell = rj.CELLS[name]
    k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
    p = cell.init(k1, f, h, jnp.float64)
    xs = jax.random.normal(k2, (b, t, f), jnp.float64)
    lengths = jax.random.randint(k3, (b,), 0, t + 1)
    mask = np.arange(t)[None, :] < np.asarray(lengths)[:, None]
    noise = 50.0 * jax.random.normal(k4, xs.shape, jnp.float64)
    xs2 = jnp.where(mask[..., None], xs, noise)
    a = rj.unroll(cell, p, xs, lengths=lengths, backward="bptt")
    c = rj.unroll(cell, p, xs2, lengths=lengths, backward="bptt")
    chex.assert_trees_all_close(a, c)
    chex.assert_tree_all_finite(a)
