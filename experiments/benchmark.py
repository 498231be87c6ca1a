"""Side-by-side speed of the seed-002 workload, and a per-cell forward+backward micro-benchmark.

Everything is measured in one run on one machine (shared machines are noisy: medians and
ratios, not single times):

(a) the NumPy transcription of seed 002's loop, one seed at a time (``rnn_jax.reference``);
(b) the same training as a JAX user would first write it (:func:`straightforward_train`:
    batch-major ``lax.scan`` over a tanh cell, ``jax.grad``, ``optax.rmsprop(nesterov=True)``,
    ``jax.jit(jax.vmap(train))`` over the chunk's seeds, sharded over the same devices);
(c) rnn_jax's sweep (``Sweep``: microbatched vmap, sharded) with ``jax.grad`` through the scan;
(d) the same with the hand-written BPTT (``custom_vjp``).

Per seed-training: ms (median over ``--repeats`` rounds of one chunk; (b), (c) and (d) are
called in turn within every round so all see the same load), cold compile (trace + lower +
XLA compile, with an empty persistent compilation cache), warm compile (the same from a fresh
function object, served by the cache: what a rerun waits for), the memory XLA reserves for the
compiled chunk, and the ratios. (b) does less than (c) and (d): it evaluates once at the end,
they every ``eval_every`` updates (curves, updates-to-converge). Then, per cell,
forward+backward of a sum-of-outputs loss, hand BPTT vs ``jax.grad`` (also called in turn),
for H in ``--hidden`` and T in ``--steps``.

    python experiments/benchmark.py [--seeds 1024] [--json FILE]
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import rnn_jax as rj
from rnn_jax import TrainConfig, make_train, reference, runs
from rnn_jax.runs import cli, files, identity


@dataclasses.dataclass(frozen=True)
class Args:
    """Speed of the sweep against the seed's NumPy loop and a straightforward JAX version, and
    of hand BPTT against jax.grad."""

    seeds: Annotated[int, cli.flag("seeds per timed call.", "N")] = 1024
    numpy_seeds: Annotated[
        int, cli.flag("seeds of the NumPy loop (the median is reported).", "N")
    ] = 10
    repeats: Annotated[
        int, cli.flag("timed rounds, called in turn (the median is reported).", "N")
    ] = 5
    microbatch: Annotated[int, cli.flag("seeds per vmap in rnn_jax's sweep.", "N")] = 64
    hidden: Annotated[tuple[int, ...], cli.flag("hidden sizes of the cell timings.", "H")] = (
        3,
        32,
        256,
    )
    steps: Annotated[tuple[int, ...], cli.flag("sequence lengths of the cell timings.", "T")] = (
        7,
        100,
    )
    cell_batch: Annotated[int, cli.flag("batch of the cell timings.", "B")] = 100
    cells: Annotated[tuple[str, ...], cli.flag("cells timed.", "NAME")] = (
        "linear",
        "tanh",
        "lstm",
        "gru",
    )
    json: Annotated[
        str | None, cli.flag("also write the results to this JSON file.", "FILE", "none")
    ] = None
    skip_cells: Annotated[bool, cli.flag("skip the cell timings.")] = False
    recall_seeds: Annotated[int, cli.flag("seeds per timed call of the custom task.", "N")] = 256
    skip_recall: Annotated[bool, cli.flag("skip the custom task (delayed recall).")] = False


def _interleaved(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, calling them in turn within every round so
    that all of them see the same machine load; ``fns`` are already warmed up."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for label, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[label].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _numpy_seed(i: int) -> float:
    """Seconds to train one seed with seed 002's literal NumPy loop."""
    rng = np.random.default_rng([0, i])
    P = reference.seed002_init(rng)
    X, T = reference.seed002_data(rng, 2000)
    t0 = time.perf_counter()
    reference.seed002_train(P, X, T)
    return time.perf_counter() - t0


def straightforward_train(key, n_train=2000, bits=6, hidden=3, batch=100, epochs=5):
    """Seed 002's training as a JAX user would first write it: Glorot init, random pairs,
    batch-major ``lax.scan`` over ``tanh(x W_in + s W_rec + b)`` from a learned ``s0``,
    ``jax.grad`` of the mean binary cross-entropy, ``optax.rmsprop(0.05, decay=0.5, eps=1e-6,
    momentum=0.8, nesterov=True)``, disjoint minibatches; then whether all ``4**bits`` pairs
    are summed exactly, and the final training loss. Returns ``(converged, final_loss)``."""
    k_init, k_data = jax.random.split(key)
    k1, k2, k3 = jax.random.split(k_init, 3)

    def glorot(k, n_in, n_out):
        a = np.sqrt(6.0 / (n_in + n_out))
        return jax.random.uniform(k, (n_in, n_out), jnp.float32, minval=-a, maxval=a)

    params = {
        "s0": jnp.zeros(hidden, jnp.float32),
        "w_in": glorot(k1, 2, hidden),
        "w_rec": glorot(k2, hidden, hidden),
        "b": jnp.zeros(hidden, jnp.float32),
        "w_out": glorot(k3, hidden, 1),
        "b_out": jnp.zeros(1, jnp.float32),
    }

    def encode(a, b):  # (n, bits+1, 2) inputs, (n, bits+1) targets, least-significant first
        to_bits = lambda v: (v[:, None] >> jnp.arange(bits + 1)) & 1  # noqa: E731
        return jnp.stack([to_bits(a), to_bits(b)], -1).astype(jnp.float32), to_bits(a + b)

    ka, kb = jax.random.split(k_data)
    xs, ts = encode(
        jax.random.randint(ka, (n_train,), 0, 2**bits),
        jax.random.randint(kb, (n_train,), 0, 2**bits),
    )

    def logits(p, x):  # x: (B, T, 2) -> (B, T)
        def step(s, x_t):
            s = jnp.tanh(x_t @ p["w_in"] + s @ p["w_rec"] + p["b"])
            return s, s @ p["w_out"][:, 0] + p["b_out"][0]

        s0 = jnp.broadcast_to(p["s0"], (x.shape[0], hidden))
        return jax.lax.scan(step, s0, jnp.swapaxes(x, 0, 1))[1].T

    def loss(p, x, t):
        return optax.sigmoid_binary_cross_entropy(logits(p, x), t).mean()

    opt = optax.rmsprop(0.05, decay=0.5, eps=1e-6, momentum=0.8, nesterov=True)
    n_batches = n_train // batch
    xb, tb = xs.reshape(n_batches, batch, bits + 1, 2), ts.reshape(n_batches, batch, bits + 1)

    def update(carry, i):
        p, s = carry
        g = jax.grad(loss)(p, xb[i % n_batches], tb[i % n_batches])
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    (p, _), _ = jax.lax.scan(update, (params, opt.init(params)), jnp.arange(epochs * n_batches))
    grid = jnp.arange(2**bits)
    x_all, t_all = encode(jnp.repeat(grid, 2**bits), jnp.tile(grid, 2**bits))
    exact = jnp.all((logits(p, x_all) > 0) == (t_all == 1), axis=1)
    return jnp.all(exact), loss(p, xs, ts)


def _keys(devices, seeds: int):
    """Seeds ``0 .. seeds-1``'s key data, sharded over ``devices`` when there are several (jit
    then partitions the vmapped seeds)."""
    keys = runs.seed_keys(0, np.arange(seeds))
    if len(devices) == 1:
        return keys
    mesh = Mesh(np.array(devices), ("seeds",))
    return jax.device_put(keys, NamedSharding(mesh, PartitionSpec("seeds")))


class _Jitted:
    """A user's ``jit(vmap(train))`` compiled for a chunk of seeds (:meth:`program` over the
    keys and ``extra`` arguments); its output's first element is whether each seed converged."""

    def __init__(self, devices, seeds: int, *extra):
        self.args = (_keys(devices, seeds), *extra)
        self.seeds = seeds

    def compile(self):
        # A fresh function object each time: a cache hit can only come from the disk cache.
        fn = jax.jit(self.program())
        # Written as a user would, (B, H) + (H,): whatever the caller's promotion settings.
        with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
            return fn.trace(*self.args).lower().compile()

    def runner(self, compiled):
        return lambda: compiled(*self.args)

    @staticmethod
    def converged(out):
        return out[0]


class _Straightforward(_Jitted):
    """(b): :func:`straightforward_train` over the chunk's seeds."""

    def program(self):
        return lambda kd: jax.vmap(straightforward_train)(jax.random.wrap_key_data(kd))


class _SweepProgram:
    """rnn_jax's :class:`rnn_jax.runs.Sweep` of ``train`` in :func:`_timed_rows`' terms."""

    def __init__(self, train, seeds: int, microbatch: int):
        self.sweep = runs.Sweep(train, seeds, microbatch=microbatch)
        self.seeds = self.sweep.chunk_size

    def compile(self):
        return self.sweep.compile()

    def runner(self, compiled):
        kd = runs.seed_keys(0, np.arange(self.seeds))
        return lambda: self.sweep(kd)

    @staticmethod
    def converged(out):
        return out["converged"]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


SWEEPS = {"(c) rnn_jax sweep, jax.grad": "autodiff", "(d) rnn_jax sweep, hand BPTT": "bptt"}
BASELINE = "(b) straightforward JAX"
NUMPY = "(a) NumPy seed loop"


def sweep_timings(args: Args) -> dict[str, dict]:
    """(b), (c) and (d), timed by :func:`_timed_rows`."""
    makers = {BASELINE: lambda: _Straightforward(jax.devices(), args.seeds)}
    for label, backward in SWEEPS.items():
        train = lambda b=backward: make_train(TrainConfig(backward=b))  # noqa: E731
        makers[label] = lambda t=train: _SweepProgram(t(), args.seeds, args.microbatch)
    return _timed_rows(makers, args.repeats)


def _timed_rows(makers: dict, repeats: int) -> dict[str, dict]:
    """Each row's program (``makers[label]()``: ``compile``, ``runner``, ``converged``,
    ``seeds``) compiled cold, then a fresh one compiled warm (only the on-disk cache can
    help), called once to warm up, then every row called in turn (:func:`_interleaved`)."""
    calls, rows = {}, {}
    for label, make in makers.items():
        program = make()
        compiled, cold_s = _timed(program.compile)
        _, warm_s = _timed(make().compile)
        calls[label] = program.runner(compiled)
        out = jax.block_until_ready(calls[label]())
        rows[label] = {
            "seeds": program.seeds,
            "cold_compile_s": cold_s,
            "warm_compile_s": warm_s,
            "bytes_per_1000_seeds": _bytes_per_1000(compiled, program.seeds),
            "converged": int(np.sum(program.converged(out))),
        }
    for label, sec in _interleaved(calls, repeats).items():
        rows[label]["ms_per_seed"] = 1e3 * sec / rows[label]["seeds"]
    return rows


# -- A custom task: delayed recall, plain JAX + optax against rnn_jax's public API ----------

#: The delayed-recall workload (issue 21): 10 random bits, at every step t >= 3 the bit of step
#: t - 3; a 4-unit GRU, Adam (lr 0.03), 1024 training sequences in minibatches of 64, 20 epochs
#: (320 updates), exact match on all 2**10 sequences every 10 updates.
RECALL = {"steps": 10, "delay": 3, "hidden": 4, "n": 1024, "batch": 64, "epochs": 20,
          "eval_every": 10, "learning_rate": 0.03}  # fmt: skip


def recall_data(key):
    """Training set: ``n`` random sequences, inputs ``(n, T, 1)``, targets ``(n, T)``."""
    return rj.datasets.delayed_recall_data(key, RECALL["n"], RECALL["steps"], RECALL["delay"])


def every_sequence(key):
    """Test set: all ``2**T`` sequences (the key is not used)."""
    return rj.datasets.all_delayed_recall(RECALL["steps"], RECALL["delay"])


def recall_train(backward: str | None = None):
    """rnn_jax: the task in the builder's few lines, trained by ``make_train``."""
    task = rj.sequence_task(recall_data, test_data=every_sequence, cell="gru",
                            hidden=RECALL["hidden"], readout=RECALL["delay"],
                            backward=backward, name="delayed_recall")  # fmt: skip
    return make_train(TrainConfig(task=task, optimizer="adam", batch_size=RECALL["batch"],
                                  epochs=RECALL["epochs"], eval_every=RECALL["eval_every"],
                                  hparams={"learning_rate": RECALL["learning_rate"]}))  # fmt: skip


def plain_recall_train(key, lr):
    """Delayed recall as a JAX + optax user writes it (about 60 lines): Glorot-uniform GRU in
    PyTorch's gate layout, batch-major ``lax.scan`` with the readout in the step,
    ``jax.value_and_grad``, ``optax.inject_hyperparams(optax.adam)`` (``lr`` traced), disjoint
    minibatches, exact match on all sequences every ``eval_every`` updates. Returns
    ``(converged, loss_curve, accuracy_curve)``."""
    t_len, d, h, n, batch = (RECALL[k] for k in ("steps", "delay", "hidden", "n", "batch"))
    k_init, k_data = jax.random.split(key)
    k1, k2, k3 = jax.random.split(k_init, 3)

    def glorot(k, n_in, n_out, shape):
        a = np.sqrt(6.0 / (n_in + n_out))
        return jax.random.uniform(k, shape, jnp.float32, -a, a)

    zeros = lambda *shape: jnp.zeros(shape, jnp.float32)  # noqa: E731
    params = {"w_x": glorot(k1, 1, h, (1, 3 * h)), "w_h": glorot(k2, h, h, (h, 3 * h)),
              "b": zeros(3 * h), "b_hn": zeros(h), "w_out": glorot(k3, h, 1, (h,)),
              "b_out": zeros()}  # fmt: skip

    def logits(p, x):  # (B, T, 1) -> (B, T - d)
        def step(hs, x_t):
            x_r, x_z, x_n = jnp.split(x_t @ p["w_x"] + p["b"], 3, axis=-1)
            h_r, h_z, h_n = jnp.split(hs @ p["w_h"], 3, axis=-1)
            r, z = jax.nn.sigmoid(x_r + h_r), jax.nn.sigmoid(x_z + h_z)
            hs = (1 - z) * jnp.tanh(x_n + r * (h_n + p["b_hn"])) + z * hs
            return hs, hs @ p["w_out"] + p["b_out"]

        _, ys = jax.lax.scan(step, zeros(x.shape[0], h), jnp.swapaxes(x, 0, 1))
        return ys.T[:, d:]

    def loss(p, x, t):
        return optax.sigmoid_binary_cross_entropy(logits(p, x), t).mean()

    xs, ts = recall_data(k_data)
    xb, tb = xs.reshape(n // batch, batch, t_len, 1), ts[:, d:].reshape(n // batch, batch, -1)
    x_all, t_all = every_sequence(None)
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=lr)

    def update(carry, i):
        p, s = carry
        value, g = jax.value_and_grad(loss)(p, xb[i % (n // batch)], tb[i % (n // batch)])
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), value

    def block(carry, b):
        carry, values = jax.lax.scan(
            update, carry, b * RECALL["eval_every"] + jnp.arange(RECALL["eval_every"])
        )
        exact = jnp.all((logits(carry[0], x_all) > 0) == (t_all[:, d:] > 0.5), axis=1)
        return carry, (values.mean(), exact.mean())

    n_blocks = RECALL["epochs"] * (n // batch) // RECALL["eval_every"]
    _, (curve, acc) = jax.lax.scan(block, (params, opt.init(params)), jnp.arange(n_blocks))
    return acc[-1] >= 1.0, curve, acc


class _PlainRecall(_Jitted):
    """:func:`plain_recall_train` compiled as ``jit(vmap(...))`` over a chunk of seeds, on one
    device (as written) or with the keys sharded over ``devices``; the lr traced."""

    def __init__(self, devices, seeds: int):
        super().__init__(devices, seeds, jnp.float32(RECALL["learning_rate"]))

    def program(self):
        return lambda kd, lr: jax.vmap(plain_recall_train, in_axes=(0, None))(
            jax.random.wrap_key_data(kd), lr
        )


PLAIN_RECALL = "(p) plain JAX + optax, one device"
RECALL_ROWS = {
    PLAIN_RECALL: (1, None),
    "(p2) plain JAX + optax, seeds sharded": ("all", None),
    "(r) rnn_jax sequence_task, jax.grad": ("all", "autodiff"),
    "(r2) rnn_jax sequence_task, hand BPTT": ("all", "bptt"),
}


def recall_timings(args: Args) -> dict[str, dict]:
    """The custom task's rows, timed by :func:`_timed_rows`."""
    makers = {}
    for label, (devices, backward) in RECALL_ROWS.items():
        if backward is None:
            chosen = jax.devices()[: 1 if devices == 1 else None]
            makers[label] = lambda d=chosen: _PlainRecall(d, args.recall_seeds)
        else:
            makers[label] = lambda b=backward: _SweepProgram(
                recall_train(b), args.recall_seeds, args.microbatch
            )
    return _timed_rows(makers, args.repeats)


def _bytes_per_1000(compiled, seeds: int) -> float | None:
    total = runs.executable_bytes(compiled)
    return None if total is None else total * 1000 / seeds


def cell_timing(name: str, hidden: int, steps: int, batch: int, repeats: int) -> dict:
    cell = rj.cells.CELLS[name]
    key = jax.random.key(0)
    params = cell.init(key, hidden, hidden)
    xs = jax.random.normal(key, (batch, steps, hidden), jnp.float32)

    def loss(backward, p, x):
        hs, _ = rj.unroll(cell, p, x, backward=backward)
        return jnp.sum(hs)

    calls = {}
    for label in ("autodiff", "bptt"):
        g = jax.jit(jax.grad(lambda p, x, b=label: loss(b, p, x)))
        jax.block_until_ready(g(params, xs))
        calls[label] = lambda g=g: g(params, xs)
    out = {k: 1e3 * v for k, v in _interleaved(calls, repeats).items()}
    out["speedup"] = out["autodiff"] / out["bptt"]
    return out


def main(argv=None, context=None) -> dict:
    args, context = cli.start(Args, argv, __doc__, context)
    runs.use_cpu_cores()  # one device per core: the sweep shards its seeds over them
    if args.seeds < 1 or args.numpy_seeds < 1 or args.repeats < 1:
        raise ValueError("--seeds, --numpy-seeds and --repeats must be >= 1")
    if args.json is not None:  # checked now, not after the benchmark
        target = Path(args.json)
        if target.is_dir() or not target.parent.is_dir():
            raise ValueError(f"--json {args.json} must name a file in an existing folder")
    # (a) first, before JAX starts its backends: once started, several CPU devices' thread
    # pools slow a NumPy loop in the same process down by half (33 -> 51 ms per seed here).
    np_times = [_numpy_seed(i) for i in range(args.numpy_seeds)]
    np_ms = 1e3 * statistics.median(np_times)
    env = identity.environment()
    machine = {
        "platform": platform.platform(),
        "cpu": env["cpu"],
        "cpu_count": os.cpu_count(),
        "devices": [str(d) for d in jax.devices()],
        "jax": env["jax"],
        "jaxlib": env["jaxlib"],
        "optax": env["optax"],
    }
    print(
        f"machine: {machine['cpu']} ({machine['cpu_count']} cores), {machine['platform']}, "
        f"JAX {env['jax']}, devices {machine['devices']}",
        flush=True,
    )
    rows = {NUMPY: {"ms_per_seed": np_ms, "seeds": 1}}
    # Cold compiles need an empty persistent cache, warm ones a filled one: a fresh folder;
    # afterwards the cache is as the caller had it (a test process shares one with others).
    on = jax.config.jax_enable_compilation_cache
    before = jax.config.jax_compilation_cache_dir if on else None
    with tempfile.TemporaryDirectory(prefix="rnn_jax_bench_cache_") as cache:
        runs.use_compilation_cache(cache)
        try:
            rows.update(sweep_timings(args))
            recall = {} if args.skip_recall else recall_timings(args)
        finally:
            runs.use_compilation_cache(before)
    base_ms = rows[BASELINE]["ms_per_seed"]
    print(
        "\n| seed-002 training | ms / seed | vs NumPy (a) | vs straightforward JAX (b) | "
        "cold compile | warm compile | memory / 1000 seeds | converged |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        r["speedup_vs_numpy"] = np_ms / r["ms_per_seed"]
        r["speedup_vs_straightforward"] = base_ms / r["ms_per_seed"]
        mem = r.get("bytes_per_1000_seeds")
        compiled = "cold_compile_s" in r
        print(
            f"| {name} | {r['ms_per_seed']:.3f} | {r['speedup_vs_numpy']:.1f}x | "
            f"{r['speedup_vs_straightforward']:.2f}x | "
            + (
                f"{r['cold_compile_s']:.1f} s | {r['warm_compile_s']:.1f} s | "
                if compiled
                else "- | - | "
            )
            + f"{'-' if mem is None else f'{mem / 2**20:.0f} MiB'} | "
            + (f"{r['converged']}/{r['seeds']} |" if "converged" in r else "- |"),
            flush=True,
        )
    if recall:
        plain_ms, plain_compile = (
            recall[PLAIN_RECALL][k] for k in ("ms_per_seed", "cold_compile_s")
        )
        print(
            "\n| delayed recall (a custom task) | ms / seed | vs plain JAX (p) | cold compile | "
            "vs plain compile | warm compile | memory / 1000 seeds | converged |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in recall.items():
            r["speedup_vs_plain"] = plain_ms / r["ms_per_seed"]
            r["compile_vs_plain"] = r["cold_compile_s"] / plain_compile
            mem = r["bytes_per_1000_seeds"]
            print(
                f"| {name} | {r['ms_per_seed']:.2f} | {r['speedup_vs_plain']:.2f}x | "
                f"{r['cold_compile_s']:.1f} s | {r['compile_vs_plain']:.2f}x | "
                f"{r['warm_compile_s']:.1f} s | "
                f"{'-' if mem is None else f'{mem / 2**20:.0f} MiB'} | "
                f"{r['converged']}/{r['seeds']} |",
                flush=True,
            )
    cells = []
    if not args.skip_cells:
        print("\n| cell | H | T | jax.grad ms | hand BPTT ms | hand speedup |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in args.cells:
            for h in args.hidden:
                for t in args.steps:
                    r = cell_timing(name, h, t, args.cell_batch, max(args.repeats, 9))
                    cells.append({"cell": name, "hidden": h, "steps": t, **r})
                    print(
                        f"| {name} | {h} | {t} | {r['autodiff']:.3f} | {r['bptt']:.3f} | "
                        f"{r['speedup']:.2f}x |",
                        flush=True,
                    )
    result = {
        "machine": machine,
        "args": dataclasses.asdict(args),
        "sweep": rows,
        "custom_task": recall,
        "cells": cells,
    }
    if args.json:
        files.write_json(args.json, result)
    return result


if __name__ == "__main__":
    cli.script(main)
