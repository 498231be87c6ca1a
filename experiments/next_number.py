"""Seed 001: a tanh RNN with a softmax readout predicts the next number mod 3.

Trains the tagger as the seed does (10 sequences of length 10 over {0,1,2}, per-sequence SGD,
lr 1e-4, 5000 epochs, N(0,1) initialisation) with 10 and 100 hidden units, and reports accuracy
out of 100 before and after. Then evaluates the seed's hand-written gradient (its bugs kept)
against our BPTT and jax.grad on the same parameters, and trains a variant that needs memory,
target (x_t + x_{t-1}) mod 3.

    python experiments/next_number.py [--out DIR] [--epochs 5000]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_jax import datasets, models, reference
from rnn_jax.runs import cli, plots


@dataclasses.dataclass(frozen=True)
class Args:
    """Seed 001 reproduced, its gradient checked, and a memory variant."""

    seed: Annotated[int, cli.flag("the seed of the data and the initial networks.", "SEED")] = 0
    epochs: Annotated[int, cli.flag("epochs of per-sequence SGD (the seed's 5000).", "N")] = 5000
    learning_rate: Annotated[float, cli.flag("SGD's learning rate (the seed's 1e-4).", "LR")] = 1e-4
    hidden: Annotated[
        tuple[int, ...], cli.flag("hidden sizes (the seed's 10, and the 100 it meant).", "H")
    ] = (10, 100)
    n_sequences: Annotated[int, cli.flag("training sequences (the seed's 10).", "N")] = 10
    length: Annotated[int, cli.flag("steps per sequence (the seed's 10).", "T")] = 10
    memory_epochs: Annotated[int, cli.flag("epochs of the memory variant (Adam).", "N")] = 3000
    memory_learning_rate: Annotated[float, cli.flag("Adam's learning rate there.", "LR")] = 0.01
    memory_hidden: Annotated[int, cli.flag("hidden units of the memory variant.", "H")] = 10
    output: cli.Output = cli.Output()
    compile_cache: cli.CompileCache = cli.CompileCache()


def per_sequence_sgd(params, tokens, targets, lr: float, epochs: int):
    """Seed 001's loop: for each epoch, for each sequence, one SGD step on its summed CE."""
    opt = optax.sgd(lr)
    grad = jax.grad(lambda p, x, y: models.tagger_loss(p, x[None], y[None], backward="bptt"))

    def seq_step(carry, xy):
        p, s = carry
        u, s = opt.update(grad(p, *xy), s, p)
        return (optax.apply_updates(p, u), s), None

    def epoch(carry, _):
        carry, _ = jax.lax.scan(seq_step, carry, (tokens, targets))
        return carry, models.tagger_loss(carry[0], tokens, targets)

    (params, _), losses = jax.lax.scan(epoch, (params, opt.init(params)), length=epochs)
    return params, losses


@jax.jit
def n_correct(params, tokens, targets) -> jax.Array:
    """How many predictions are right, as a device scalar (not waited for). Jitted: one
    compile per shape, instead of one per operation run eagerly (each ~0.1 s on CPU)."""
    pred = jnp.argmax(models.tagger_apply(params, tokens), -1).astype(targets.dtype)
    return jnp.sum(pred == targets)


def gradients(params, tokens, targets) -> tuple:
    """Our BPTT gradient and ``jax.grad``'s (autodiff) on the first sequence, dispatched (not
    waited for)."""
    loss = lambda q, bw: models.tagger_loss(q, tokens[:1], targets[:1], backward=bw)  # noqa: E731
    grad = jax.jit(jax.grad(loss), static_argnums=1)
    return grad(params, "bptt"), grad(params, "autodiff")


def seed_gradient_errors(params, tokens, targets, ours, auto) -> dict:
    """Relative error ||g - g_auto|| / ||g_auto|| per parameter on one sequence, for the seed's
    hand-written gradient and for our BPTT ``ours`` (``g_auto``: ``auto``, from jax.grad)."""
    p = jax.tree.map(np.asarray, params)
    x = np.eye(3)[np.asarray(tokens[0])]
    y = np.eye(3)[np.asarray(targets[0])]
    # Seed layout: w (H, K) used as x @ w.T, u (H, H) used as a @ u, v (K, H) used as a @ v.T.
    w, u, v = p.cell.w_x.T, p.cell.w_rec, p.w_out.T
    a_h, y_hat = reference.seed001_feedforward(w, u, v, p.cell.b, p.b_out, x)
    dw, dv, du, dbh, dbo = reference.seed001_backpropagation(w, u, v, a_h, y_hat, x, y)
    seed = {"w_x": dw.T, "w_rec": du, "b_h": dbh, "w_out": dv.T, "b_out": dbo}

    def flat(g):
        return {
            "w_x": g.cell.w_x,
            "w_rec": g.cell.w_rec,
            "b_h": g.cell.b,
            "w_out": g.w_out,
            "b_out": g.b_out,
        }

    ours, auto = flat(ours), flat(auto)
    out = {}
    for k in seed:
        ref = np.asarray(auto[k])
        norm = np.linalg.norm(ref)
        out[k] = {
            "seed_formula": float(np.linalg.norm(seed[k] - ref) / norm),
            "rnn_jax_bptt": float(np.linalg.norm(np.asarray(ours[k]) - ref) / norm),
        }
    return out


def main(argv=None, context=None) -> dict:
    args, context = cli.start(Args, argv, __doc__, context)
    if args.epochs < 1 or args.learning_rate <= 0 or args.n_sequences < 1 or args.length < 2:
        raise ValueError(
            "--epochs >= 1, --learning-rate > 0, --n-sequences >= 1 and --length >= 2 required"
        )
    out = args.output.folder(Path("results") / "next_number" / "default")

    def compute() -> dict:
        with jax.enable_x64(True):  # the seed's float64, for this run only
            return run(args, out)

    metrics = cli.reuse_or_run(out, "next_number", args, context, compute)
    report(metrics, args, out)
    return metrics


def _setup(args: Args, key) -> dict:
    """The data and the initial networks (one program): the tagger's sequences and a start
    per hidden size, and the memory variant's training set, held-out set and start."""
    k_data, k_test, k_init, k_mem = jax.random.split(key, 4)
    starts = [
        models.tagger_init(jax.random.fold_in(k_init, h), 3, h, scheme="normal", dtype=jnp.float64)
        for h in args.hidden
    ]
    held_out = jax.random.fold_in(k_mem, 1)
    return {
        "tagger": datasets.next_number_data(k_data, args.n_sequences, args.length),
        "starts": starts,
        "memory": datasets.next_number_data(k_mem, 100, args.length, memory=True),
        "held_out": datasets.next_number_data(held_out, 100, args.length, memory=True),
        "memory_start": models.tagger_init(k_init, 3, args.memory_hidden, dtype=jnp.float64),
    }


def fit_memory(p0, tokens, targets, args: Args):
    """Adam on the mean cross-entropy of the memory variant, full batch. ``scan_unroll=1``:
    compiles in half the time of the default 8 and runs as fast here (the accuracies it
    reaches are the same)."""
    opt = optax.adam(args.memory_learning_rate)

    def loss(q):
        return models.tagger_loss(q, tokens, targets, reduction="mean", scan_unroll=1)

    def step(carry, _):
        p, s = carry
        u, s = opt.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, u), s), None

    with jax.numpy_dtype_promotion("standard"):
        return jax.lax.scan(step, (p0, opt.init(p0)), length=args.memory_epochs)[0][0]


def run(args: Args, out: Path) -> dict:
    """Every program is dispatched before any result is waited for: JAX runs them one after
    the other in the background while the next ones compile (the trainings take seconds)."""
    setup = jax.jit(lambda key: _setup(args, key))(jax.random.key(args.seed))
    # The data as constants of the programs that use them (integers: exact).
    tokens, targets = jax.device_get(setup["tagger"])
    (x_m, y_m), (xt_m, yt_m) = jax.device_get((setup["memory"], setup["held_out"]))
    total = args.n_sequences * args.length
    taggers = {}
    for h, p0 in zip(args.hidden, setup["starts"]):
        train = jax.jit(
            lambda p: per_sequence_sgd(p, tokens, targets, args.learning_rate, args.epochs)
        )
        p, losses = train(p0)
        taggers[h] = (p0, losses, n_correct(p0, tokens, targets), n_correct(p, tokens, targets))
    grads = gradients(taggers[args.hidden[0]][0], tokens, targets)

    # One step past: the target needs one step of memory.
    pm = jax.jit(lambda p: fit_memory(p, x_m, y_m, args))(setup["memory_start"])
    memory_correct = (n_correct(pm, x_m, y_m), n_correct(pm, xt_m, yt_m))

    # Now wait for the results.
    metrics: dict = {"total_predictions": total, "tagger": {}}
    curves = {}
    for h, (p0, losses, before, after) in taggers.items():
        metrics["tagger"][str(h)] = {
            "correct_before": int(before),
            "correct_after": int(after),
            "final_loss": float(losses[-1]),
        }
        curves[f"H={h}"] = np.asarray(losses)
        if h == args.hidden[0]:
            metrics["gradient_relative_error"] = seed_gradient_errors(p0, tokens, targets, *grads)
    plots.curve_figure(
        curves,
        out / "loss.png",
        "epoch",
        "summed cross-entropy (10 sequences)",
        title="Seed 001: per-sequence SGD, lr 1e-4",
    )
    metrics["memory_task"] = {
        "target": "(x_t + x_{t-1}) mod 3",
        "optimizer": f"adam lr={args.memory_learning_rate:g}, full batch of 100 sequences",
        "hidden": args.memory_hidden,
        "train_accuracy": int(memory_correct[0]) / y_m.size,
        "held_out_accuracy": int(memory_correct[1]) / yt_m.size,
    }
    return metrics


def report(metrics: dict, args: Args, out: Path) -> None:
    total = metrics["total_predictions"]
    for h, m in metrics["tagger"].items():
        print(
            f"tagger H={h}: {m['correct_before']}/{total} correct before, "
            f"{m['correct_after']}/{total} after {args.epochs} epochs"
        )
    print("gradient relative error vs jax.grad (seed's formula | rnn_jax BPTT):")
    for k, e in metrics["gradient_relative_error"].items():
        print(f"  {k:>6}: {e['seed_formula']:.3g} | {e['rnn_jax_bptt']:.2g}")
    mt = metrics["memory_task"]
    print(
        f"memory task {mt['target']}: train {mt['train_accuracy']:.1%}, held-out "
        f"{mt['held_out_accuracy']:.1%} -> {out}"
    )


if __name__ == "__main__":
    cli.script(main)
