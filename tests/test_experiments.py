"""The experiment scripts in tiny configurations: files written, key numbers right, CLI errors."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from rnn_jax.runs import CACHE_ENV, TABLE, files
from tests.helpers import HANG_S
from tests.sweep_config import TINY_FLAGS

#: End-to-end: scripts or several processes (deselect with -m 'not slow').
pytestmark = pytest.mark.slow


ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def _files(out, *names):
    for n in names:
        assert (out / n).is_file() and (out / n).stat().st_size > 0, n
    return json.loads((out / "metrics.json").read_text())


def test_counting_ones_reproduces_seed000(tmp_path):
    m = _load("counting_ones").main(
        ["--out", str(tmp_path), "--grid", "20", "--test-lengths", "10", "100"]
    )
    metrics = _files(
        tmp_path, "config.json", "metrics.json", "loss_surface.png", "gradient_explosion.png"
    )
    assert metrics["final_weights"] == m["final_weights"]
    assert f"{metrics['final_weights']['w_x']:.4f}" == "1.0014"
    assert f"{metrics['final_weights']['w_rec']:.4f}" == "0.9997"
    assert f"{metrics['test_output']:.2f}" == "5.00"
    # Why the seed needed Rprop: gradient descent at 1e-6 diverges from (-1.5, 2).
    assert metrics["optimizers"]["gd lr=1e-06"]["diverged"]
    assert not metrics["optimizers"]["irprop+"]["diverged"]


def test_next_number_shows_the_seed_gradient_is_wrong(tmp_path):
    flags = ["--epochs", "300", "--learning-rate", "0.01", "--memory-epochs", "300"]
    metrics = _load("next_number").main(["--out", str(tmp_path), "--hidden", "10", *flags])
    _files(tmp_path, "config.json", "metrics.json", "loss.png")
    err = metrics["gradient_relative_error"]
    assert err["w_rec"]["seed_formula"] > 0.1
    assert err["w_x"]["seed_formula"] > 0.1
    for e in err.values():
        assert e["rnn_jax_bptt"] <= 1e-10
    # The tagger learns next-number prediction (the seed: 98/100); the memory task too.
    t = metrics["tagger"]["10"]
    assert t["correct_before"] < 50 and t["correct_after"] == 100
    assert metrics["memory_task"]["held_out_accuracy"] >= 0.95


def test_binary_addition_smoke(tmp_path):
    metrics = _load("binary_addition").main(
        [
            "--out",
            str(tmp_path),
            "--candidates",
            "16",
            "--test-bits",
            "8",
            "16",
            "--n-long",
            "50",
        ]
    )
    _files(tmp_path, "config.json", "metrics.json", "cost.png", "length_generalisation.png")
    assert metrics["gradient_check_max_relative_error"] < 1e-6
    # Seed 002's setting, 16 seeds: some converge (the README: 6); the one shown adds every
    # pair of 6-bit numbers exactly and carries that to 8- and 16-bit sums.
    assert 1 <= metrics["converged_candidates"] < 16
    assert metrics["shown_converged"] and metrics["first_converged_update"] > 0
    assert metrics["accuracy_all_pairs"] == 1.0
    assert set(metrics["length_generalisation_accuracy"]) == {"8", "16"}
    assert min(metrics["length_generalisation_accuracy"].values()) >= 0.9
    assert len(metrics["examples"]) == 5 and "x1:" in metrics["examples"][0]


@pytest.mark.parametrize(
    "script",
    ["counting_ones", "next_number", "binary_addition", "convergence_sweep", "init_study"],
)
def test_help(script):
    r = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / f"{script}.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert r.returncode == 0 and "--out" in r.stdout


def test_convergence_sweep_grid_mode(tmp_path):
    """A grid over optimizers x a traced learning rate; a point's table equals that point run
    alone, byte for byte (same compiled function, the rate as a traced value)."""
    common = ["--seeds", "4", "--chunk-size", "4", *TINY_FLAGS, "--no-progress"]
    grid = ["--grid-optimizers", "sgd", "irprop-", "--grid", "learning_rate=0.05,0.2"]
    rows = _load("convergence_sweep").main([*grid, *common, "--out", str(tmp_path / "g")])
    assert [(r["optimizer"], r["learning_rate"]) for r in rows] == [
        ("sgd", 0.05),
        ("sgd", 0.2),
        ("irprop-", 0.05),
        ("irprop-", 0.2),
    ]
    for name in ("grid.csv", "grid.md", "grid.png", "per_seed.csv"):
        assert (tmp_path / "g" / name).stat().st_size > 0
    lines = (tmp_path / "g" / "grid.md").read_text().splitlines()
    assert len([ln for ln in lines if ln.startswith("| ")]) == 5  # header + 4 rows
    tidy = files.read_csv(tmp_path / "g" / "per_seed.csv")
    assert len(tidy["seed"]) == 16 and sorted(set(tidy["learning_rate"])) == [0.05, 0.2]
    point = tmp_path / "g" / "optimizer=irprop-" / "learning_rate=0.2"
    assert json.loads((point / "metrics.json").read_text())["hparams"]["learning_rate"] == 0.2
    alone = ["--optimizer", "irprop-", "--hparams", "learning_rate", "0.2"]
    _load("convergence_sweep").main([*alone, *common, "--out", str(tmp_path / "alone")])
    assert (tmp_path / "alone" / "per_seed.csv").read_bytes() == (
        point / "per_seed.csv"
    ).read_bytes()


def test_benchmark_tiny_run_writes_its_table(tmp_path):
    """A smoke run of the benchmark (no timing is asserted: a benchmark, not a test). 8 seeds
    is one chunk whether the process has one CPU device or two (microbatch 4)."""
    out = tmp_path / "bench.json"
    flags = ["--seeds", "8", "--numpy-seeds", "1", "--repeats", "1", "--microbatch", "4",
             "--recall-seeds", "8"]  # fmt: skip
    cells = ["--hidden", "3", "--steps", "7", "--cells", "tanh"]
    bench = _load("benchmark")
    with jax.numpy_dtype_promotion("standard"):  # optax.adam: b ** count (float ** int)
        result = bench.main([*flags, *cells, "--json", str(out)])
    # its cold/warm cache was its own: the process's shared cache is on again afterwards
    assert jax.config.jax_enable_compilation_cache
    assert jax.config.jax_compilation_cache_dir == os.environ[CACHE_ENV]
    saved = json.loads(out.read_text())
    assert saved["sweep"].keys() == result["sweep"].keys()
    assert len(saved["sweep"]) == 4 and len(saved["cells"]) == 1
    numpy_ms = saved["sweep"][bench.NUMPY]["ms_per_seed"]
    base_ms = saved["sweep"][bench.BASELINE]["ms_per_seed"]
    for row in saved["sweep"].values():
        assert row["speedup_vs_numpy"] == pytest.approx(numpy_ms / row["ms_per_seed"])
        assert row["speedup_vs_straightforward"] == pytest.approx(base_ms / row["ms_per_seed"])
    assert "cold_compile_s" not in saved["sweep"][bench.NUMPY]
    for label in (bench.BASELINE, *bench.SWEEPS):
        row = saved["sweep"][label]
        assert row["seeds"] == 8 and 0 <= row["converged"] <= 8
        assert row["bytes_per_1000_seeds"] > 0
        assert row["cold_compile_s"] > 0 and row["warm_compile_s"] > 0
    cell = saved["cells"][0]
    assert cell["speedup"] == pytest.approx(cell["autodiff"] / cell["bptt"])
    recall = saved["custom_task"]
    assert list(recall) == list(bench.RECALL_ROWS)
    plain = recall[bench.PLAIN_RECALL]
    for row in recall.values():
        assert row["seeds"] == 8 and 0 <= row["converged"] <= 8
        assert row["speedup_vs_plain"] == pytest.approx(plain["ms_per_seed"] / row["ms_per_seed"])
        assert row["compile_vs_plain"] == pytest.approx(
            row["cold_compile_s"] / plain["cold_compile_s"]
        )


def test_init_study_pairs_the_schemes_on_both_tasks(tmp_path):
    """Every scheme on the same seeds of both tasks; the table, the figure and the per-seed
    tables written; the same command again reuses every sweep."""
    argv = ["--adder-seeds", "4", "--recall-seeds", "4", "--schemes", "glorot", "orthogonal",
            "--no-progress", "--out", str(tmp_path)]  # fmt: skip
    study = _load("init_study")
    with jax.numpy_dtype_promotion("standard"):  # optax.adam: b ** count (float ** int)
        result = study.main(argv)
        again = study.main(argv)
    for task in ("binary_addition", "delayed_recall"):
        rows = result[task]
        assert [r["init"] for r in rows] == ["glorot", "orthogonal"]
        assert rows[0]["difference"] is None and all(r["seeds"] == 4 for r in rows)
        tidy = files.read_csv(tmp_path / f"{task}.csv")
        assert len(tidy["seed"]) == 8 and sorted(set(tidy["seed"])) == [0, 1, 2, 3]
    md = (tmp_path / "init_study.md").read_text()
    assert md.count("| glorot |") == 2 and "paired" in md
    assert (tmp_path / "init_study.png").stat().st_size > 0
    assert again == result


def test_compare_pairs_sweeps_on_shared_seeds_and_says_what_differs(tmp_path, capsys):
    import dataclasses as dc

    from rnn_jax import make_train
    from rnn_jax.runs import run_sweep
    from tests.sweep_config import TINY

    def sweep(name, optimizer, base_seed, **changes):
        train = make_train(dc.replace(TINY, optimizer=optimizer, dtype="float32", **changes))
        return run_sweep(train, 12, base_seed=base_seed, out_dir=tmp_path / name,
                         progress=False, microbatch=4)  # fmt: skip

    base, mom, other = sweep("base", "sgd", 0), sweep("mom", "momentum", 0), sweep("s7", "sgd", 7)
    compare = _load("compare").main
    rows = compare([str(tmp_path / n) for n in ("base", "mom", "s7")])
    text = capsys.readouterr().out
    paired, unpaired = rows
    a, b = mom.table["converged"] == 1, base.table["converged"] == 1
    discordant = (int((a & ~b).sum()), int((~a & b).sum()))
    assert paired["paired"] and paired["n"] == 12
    assert (paired["only_it"], paired["only_baseline"]) == discordant
    assert paired["difference"] == (discordant[0] - discordant[1]) / 12
    assert paired["ci95"][0] <= paired["difference"] <= paired["ci95"][1]
    assert "optimizer: 'sgd' -> 'momentum'" in text and "hparams.learning_rate" in text
    assert not unpaired["paired"] and unpaired["p_value"] is None
    assert "base seed 7 differs from the baseline's 0" in text and "unpaired" in text
    assert other.table["seed"].size == 12
    # another hidden size: paired, and said
    sweep("h4", "sgd", 0, hidden=4)
    (row,) = compare([str(tmp_path / "base"), str(tmp_path / "h4")])
    assert row["paired"] and "train.hidden: 3 -> 4" in row["differs"]
    # another task (4-bit sums): refused in one line, unless asked; an empty folder: refused
    sweep("bits4", "sgd", 0, bits=4)
    with pytest.raises(ValueError, match="rates of different tasks or criteria are not compared"):
        compare([str(tmp_path / "base"), str(tmp_path / "bits4")])
    (row,) = compare([str(tmp_path / "base"), str(tmp_path / "bits4"), "--allow-different"])
    assert "train.bits: 3 -> 4" in row["differs"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no sweep"):
        compare([str(tmp_path / "base"), str(tmp_path / "empty")])
    # --out: a results folder of its own, never another run's folder
    compare([str(tmp_path / "base"), str(tmp_path / "mom"), "--out", str(tmp_path / "cmp")])
    assert "| " in (tmp_path / "cmp" / "comparison.md").read_text()
    before = (tmp_path / "mom" / "per_seed.csv").read_bytes()
    with pytest.raises(ValueError, match="another kind of run"):
        compare([str(tmp_path / "base"), str(tmp_path / "s7"), "--out", str(tmp_path / "mom")])
    assert (tmp_path / "mom" / "per_seed.csv").read_bytes() == before


def test_compare_takes_the_points_of_a_grid(tmp_path):
    from rnn_jax import make_train
    from rnn_jax.runs import run_grid
    from tests.sweep_config import TINY

    grid = {"learning_rate": [0.05, 0.1, 0.3]}
    run_grid(make_train(TINY), 8, grid, out_dir=tmp_path / "g", progress=False, microbatch=4)
    compare = _load("compare").main
    rows = compare([str(tmp_path / "g")])
    assert len(rows) == 2 and all(r["paired"] for r in rows)
    assert rows[0]["differs"] == ["hparams.learning_rate: 0.05 -> 0.1"]
    (row,) = compare([str(tmp_path / "g"), "--points", "learning_rate=0.1", "learning_rate=0.3"])
    assert row["differs"] == ["hparams.learning_rate: 0.1 -> 0.3"]
    with pytest.raises(ValueError, match="no point of the grid matches"):
        compare([str(tmp_path / "g"), "--points", "learning_rate=7"])


def test_importing_the_scripts_changes_no_global_jax_state():
    code = (
        "import importlib.util, pathlib, sys, jax\n"
        "before = (jax.config.jax_enable_x64, jax.config.jax_numpy_dtype_promotion)\n"
        "for p in sorted(pathlib.Path('experiments').glob('*.py')):\n"
        "    spec = importlib.util.spec_from_file_location(p.stem, p)\n"
        "    module = sys.modules[p.stem] = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "after = (jax.config.jax_enable_x64, jax.config.jax_numpy_dtype_promotion)\n"
        "print(before == after, after)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=HANG_S)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("True (False,") and "standard" in r.stdout, r.stdout


def test_study_and_convergence_sweep_write_the_same_table(tmp_path):
    """The same configuration and seeds through both entry points: byte-identical tables."""
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, *a, "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    s = run("experiments/study.py", "--skip-reproductions", "--optimizers", "adam", "--seeds",
            "64", "--out", str(tmp_path / "study"))  # fmt: skip
    c = run("experiments/convergence_sweep.py", "--optimizer", "adam", "--seeds", "64",
            "--seed", "1", "--eval-every", "5", "--out", str(tmp_path / "cs"))  # fmt: skip
    assert s.returncode == 0 and c.returncode == 0, s.stderr[-2000:] + c.stderr[-2000:]
    study_table = (tmp_path / "study" / "sweeps" / "adam" / TABLE).read_bytes()
    assert study_table == (tmp_path / "cs" / TABLE).read_bytes()


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
    ("convergence_sweep", ["--grid", "learning_rate=0.1,nan"], "learning_rate"),
    (
        "convergence_sweep",
        ["--grid", "learning_rate=0.1,0.3", "--baseline", "learning_rate=0.2"],
        "matches 0 points",
    ),
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
        timeout=HANG_S,
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
    return subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_S)


def test_cli_damaged_folders_and_other_studies_are_one_line_errors(tmp_path):
    """A corrupted config.json and a study into a folder holding another kind of run: exit 2,
    one line naming the file, nothing changed (damaged data files: tests/test_sweep.py)."""
    run = tmp_path / "run"
    assert _json_sweep(run).returncode == 0
    files = lambda: {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}  # noqa: E731
    before = files()

    (run / "config.json").write_text('{"kind": ')
    r = _json_sweep(run)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "config.json" in r.stderr and "not valid JSON" in r.stderr, r.stderr
    (run / "config.json").write_bytes(before["config.json"])

    study = [sys.executable, str(ROOT / "experiments" / "study.py"), "--out", str(run)]
    r = subprocess.run(study, capture_output=True, text=True, timeout=HANG_S)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "holds another kind of run (sweep, not study)" in r.stderr, r.stderr
    assert "--overwrite" in r.stderr, r.stderr
    assert files() == before


def test_cli_refuses_an_out_dir_with_another_config(tmp_path):
    assert _json_sweep(tmp_path).returncode == 0
    before = (tmp_path / "per_seed.csv").read_bytes()
    r = _json_sweep(tmp_path, "--hidden", "4")
    assert r.returncode == 2 and "holds another run (it differs in train.hidden" in r.stderr
    assert (tmp_path / "per_seed.csv").read_bytes() == before


def _all_files(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_the_same_command_twice_reuses_the_run(tmp_path):
    """Exit 0, byte-identical files, nothing trained the second time."""
    first = _json_sweep(tmp_path / "run")
    assert first.returncode == 0, first.stderr
    before = _all_files(tmp_path / "run")
    again = _json_sweep(tmp_path / "run")
    assert again.returncode == 0, again.stderr
    assert "reusing the 4 seeds already in" in again.stderr, again.stderr
    # metrics.json records the training's timings: a second training would change it
    assert _all_files(tmp_path / "run") == before


def test_a_study_rerun_trains_only_what_is_new(tmp_path):
    study = [sys.executable, str(ROOT / "experiments" / "study.py"), "--skip-reproductions",
             "--seeds", "64", "--out", str(tmp_path)]  # fmt: skip
    run = lambda *opts: subprocess.run(  # noqa: E731
        [*study, "--optimizers", *opts], capture_output=True, text=True, timeout=HANG_S
    )
    r = run("adam", "sgd")
    assert r.returncode == 0, r.stderr[-2000:]
    before = _all_files(tmp_path)
    r = run("adam", "sgd")  # the same command: reused whole, nothing trained
    assert r.returncode == 0 and "reusing the finished study" in r.stderr, r.stderr[-2000:]
    assert "| adam | 0.1 |" in r.stdout and _all_files(tmp_path) == before
    r = run("adam", "sgd", "momentum")  # one optimizer more: only it trains
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.count("compiling") == 1 and "compiling binary_addition / momentum" in r.stderr
    after = _all_files(tmp_path)
    for name in before:
        if name.startswith("sweeps/"):
            assert after[name] == before[name], name
    assert "| momentum | 1 |" in (tmp_path / "summary.md").read_text()


_MY_STUDY = '''
"""A study of one's own, in a file of its own: a task factory and an optimizer."""
import jax, jax.numpy as jnp, optax
import rnn_jax as rj

def make_task(hidden=4, length=5):
    def data(key):
        bits = jax.random.bernoulli(key, 0.5, (64, length, 1)).astype(jnp.float32)
        return bits, bits[:, 0, 0]
    def init(key, hp):
        k1, k2 = jax.random.split(key)
        return (rj.cells.gru.init(k1, 1, hidden), 0.5 * jax.random.normal(k2, (hidden,)))
    def logits(p, xs):
        return rj.unroll(rj.cells.gru, p[0], xs)[1] @ p[1]
    return rj.Task(init=init, data=data, test_data=data, name="first_bit",
        loss=lambda p, xs, ts: rj.losses.sigmoid_binary_cross_entropy(logits(p, xs), ts),
        accuracy=lambda p, test: jnp.mean((logits(p, test[0]) > 0) == (test[1] > 0.5)))

def signum(hp):
    return optax.chain(optax.scale_by_sign(), optax.scale(-hp["learning_rate"]))
'''


def _in(folder, *argv):
    cmd = [sys.executable, str(ROOT / "experiments" / "convergence_sweep.py"), *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=HANG_S)


def test_your_own_task_and_optimizer_from_the_command_line(tmp_path):
    (tmp_path / "my_study.py").write_text(_MY_STUDY)
    small = ["--seeds", "8", "--batch-size", "32", "--eval-every", "2", "--no-progress"]
    r = _in(tmp_path, "--task", "my_study:make_task", "--task-args", "hidden=8", "length=5",
            "--optimizer", "optax:lion", "--hparams", "learning_rate", "0.03", *small,
            "--out", "lion")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("my_study:make_task / optax:lion (b1 0.9, b2 0.99, "), r.stdout
    config = json.loads((tmp_path / "lion" / "config.json").read_text())["train"]
    assert config["task"]["import"] == "my_study:make_task" and config["task_args"] == {
        "hidden": 8,
        "length": 5,
    }
    assert len(config["task"]["source_sha256"]) == 64 and config["optimizer"] == "optax:lion"
    assert len(config["task"]["fingerprint"]) == 64  # what the factory returned, by value
    assert "hparams" not in config  # the values used are the sweep's own, at the top level
    table = files.read_csv(tmp_path / "lion" / TABLE)
    assert {"b1", "b2", "learning_rate", "weight_decay"} <= set(table)
    assert np.all(table["learning_rate"] == 0.03)
    # the factory's arguments are part of the run: other arguments, another run
    r = _in(tmp_path, "--task", "my_study:make_task", "--task-args", "hidden=4", "length=5",
            "--optimizer", "optax:lion", "--hparams", "learning_rate", "0.03", *small,
            "--out", "lion")  # fmt: skip
    assert r.returncode == 2 and "differs in train.task.fingerprint, train.task_args.hidden" in (
        r.stderr
    ), r.stderr
    # and so is the module's code: edited, the same command is another run
    (tmp_path / "my_study.py").write_text(_MY_STUDY + "\n# edited\n")
    r = _in(tmp_path, "--task", "my_study:make_task", "--task-args", "hidden=8", "length=5",
            "--optimizer", "optax:lion", "--hparams", "learning_rate", "0.03", *small,
            "--out", "lion")  # fmt: skip
    assert r.returncode == 2 and "train.task.source_sha256" in r.stderr, r.stderr
    # a grid over your own optimizer, compared with a chosen baseline point
    r = _in(tmp_path, "--task", "my_study:make_task", "--optimizer", "my_study:signum",
            "--grid", "learning_rate=0.01,0.1", "--baseline", "learning_rate=0.1", *small,
            "--out", "grid")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    md = (tmp_path / "grid" / "grid.md").read_text()
    assert "vs signum, learning_rate=0.1: difference" in md and "| signum | 0.01 |" in md
    long = files.read_csv(tmp_path / "grid" / "per_seed.csv")
    assert sorted(set(long["learning_rate"])) == [0.01, 0.1] and len(long["seed"]) == 16


@pytest.mark.parametrize("argv,match", [
    (["--optimizer", "no_such_module:x"], "module 'no_such_module' does not import"),
    (["--optimizer", "my_study:nothing"], "'my_study' has no attribute 'nothing'"),
    (["--optimizer", "my_study:jax"], "is a module, not an rnn_jax.Optimizer"),
    (["--optimizer", "optax:nothing"], "optax has no optimizer 'nothing'"),
    (["--optimizer", "optax:lion"], "reads ['learning_rate'] but no value is given: --hparams"),
    (["--task", "my_study:signum"], "--task 'my_study:signum' with --task-args: signum() missing"),
    (["--task-args", "hidden=3"], "task 'binary_addition' takes none"),
    (["--task", "my_study:make_task", "--task-args", "width=3"], "unexpected keyword"),
])  # fmt: skip
def test_import_strings_that_fail_are_one_line(tmp_path, argv, match):
    (tmp_path / "my_study.py").write_text(_MY_STUDY)
    r = _in(tmp_path, *argv, "--seeds", "8", "--out", "o")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and match in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("script", sorted(p.stem for p in (ROOT / "experiments").glob("*.py")))
def test_help_speaks_shell_and_every_flag_has_help(script):
    env = {**os.environ, "COLUMNS": "100"}
    r = subprocess.run([sys.executable, str(ROOT / "experiments" / f"{script}.py"), "--help"],
                       capture_output=True, text=True, timeout=HANG_S, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = r.stdout
    for python_only in (":class:", ":func:", ":data:", ":mod:", "``", "(default: )", "None)"):
        assert python_only not in text, (python_only, text)
    lines = [ln.strip("│ ").rstrip() for ln in text.splitlines()]
    for i, line in enumerate(lines):
        m = re.match(r"(--[\w-]+)(?:, --[\w-]+)?( [A-Z][\w=:. ]*)?(\s{2,}(.*))?$", line)
        if m and m.group(1) != "--help":
            helptext = m.group(4) or (lines[i + 1] if i + 1 < len(lines) else "")
            assert helptext and not helptext.startswith("(default"), (script, line)


@pytest.mark.parametrize("script,argv,match", [
    ("study", ["--eval-every", "0"], "eval_every must be >= 1"),
    ("benchmark", ["--json", "{tmp}"], "--json {tmp} must name a file"),
])  # fmt: skip
def test_refusals_come_before_any_work(tmp_path, script, argv, match):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    r = subprocess.run([sys.executable, str(ROOT / "experiments" / f"{script}.py"), *argv,
                        "--out" if script == "study" else "--skip-cells",
                        *([str(tmp_path / "o")] if script == "study" else [])],
                       capture_output=True, text=True, timeout=HANG_S)  # fmt: skip
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert match.replace("{tmp}", str(tmp_path)) in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()
