"""Seed 002: a tanh RNN with a learned initial state learns binary addition.

Seed 002's setting (2000 pairs of 6-bit numbers, least-significant bit first, 3 states,
RMSprop + Nesterov with lr 0.05, λ 0.5, μ 0.8, ε 1e-6, minibatches of 100, 5 epochs). Training
does not always converge, so ``--candidates`` seeds train at once (vmapped): the script reports
how many converged and shows the first that did (or the first seed if none did). It prints the
gradient check, five test sums in the seed's layout, accuracy over all 4096 pairs, and accuracy
on 8-, 16-, 32- and 64-bit sums (length generalisation).

Minibatches are disjoint (``X[i*100:(i+1)*100]``); the seed's text slices ``X[mb:mb+100]``,
overlapping windows shifted by one sample, which we take to be a slip.

    python experiments/binary_addition.py [--optimizer rmsprop_nesterov] [--out DIR]
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np

import rnn_jax as rj
from rnn_jax import datasets, models, runs
from rnn_jax.runs import cli, identity, plots


@dataclasses.dataclass(frozen=True)
class Args:
    """Seed 002 reproduced, with a convergence count and length generalisation."""

    seed: Annotated[int, cli.flag("the base seed of the candidates.", "SEED")] = 0
    candidates: Annotated[
        int, cli.flag("seeds trained at once; the first converged one is shown.", "N")
    ] = 16
    test_bits: Annotated[
        tuple[int, ...], cli.flag("operand lengths the shown adder is tested on.", "BITS")
    ] = (8, 16, 32, 64)
    n_long: Annotated[int, cli.flag("random sums per longer length.", "N")] = 1000
    train: cli.TrainFlags = cli.TrainFlags(eval_every=1)
    output: cli.Output = cli.Output()
    compile_cache: cli.CompileCache = cli.CompileCache()


def gradient_check(params, xs, ts, cell) -> float:
    """Largest relative error, hand BPTT vs central differences, float64 (seed 002's check).

    The hand BPTT gradient and the error are jitted (one compile each, instead of ~150
    operations run eagerly); the central differences evaluate the jitted loss as before."""
    p64, x64, t64 = jax.device_get(
        jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), (params, xs[:100], ts[:100]))
    )
    f = jax.jit(lambda p: models.adder_loss(p, x64, t64, cell=cell))
    bptt_loss = functools.partial(models.adder_loss, cell=cell, backward="bptt")
    g = jax.jit(jax.grad(bptt_loss))(p64, x64, t64)
    num = rj.numerical_grad(f, p64, 1e-5)
    return float(jax.jit(rj.relative_error, static_argnames="floor")(g, num, floor=1e-6))


def layout(a: int, b: int, t_bits, y_bits) -> str:
    """Seed 002's printout: bits least-significant first, then the decimal value."""
    fmt = lambda bits: "".join(str(int(v)) for v in bits)  # noqa: E731
    w = len(t_bits)
    to_bits = lambda n: (n >> np.arange(w)) & 1  # noqa: E731 - datasets.to_bits, in NumPy
    return (
        f"x1:   {fmt(to_bits(a))}   {a:2d}\n"
        f"x2: + {fmt(to_bits(b))}   {b:2d}\n"
        f"      {'-' * w}   --\n"
        f"t:  = {fmt(t_bits)}   {a + b:2d}\n"
        f"y:  = {fmt(y_bits)}"
    )


def exact_sums(params, xs, ts, cell):
    """Fraction of the sums whose every bit is right."""
    return jnp.mean(jnp.all((models.adder_apply(params, xs, cell=cell) > 0) == (ts > 0.5), -1))


@functools.partial(jax.jit, static_argnames=("bits", "test_bits", "n_long", "cell"))
def evaluate(
    candidates, pick, key, *, bits: int, test_bits: tuple[int, ...], n_long: int, cell
) -> dict:
    """The adder ``pick`` of ``candidates`` (parameters stacked along axis 0) on its tests, as
    one program (one compile instead of ~150 small ones): five random sums (operands ``ab``,
    targets and outputs in bits), the accuracy over all pairs of ``bits``-bit numbers, and over
    ``n_long`` random sums per length of ``test_bits``."""
    params = jax.tree.map(lambda a: a[pick], candidates)
    k_test = jax.random.fold_in(key, 10_000)
    ab = jax.random.randint(k_test, (5, 2), 0, 2**bits)
    x5, t5 = datasets.encode_addition(ab[:, 0], ab[:, 1], bits)
    lengths = []
    for i, n_bits in enumerate(test_bits):
        xl, tl = datasets.long_addition(jax.random.fold_in(k_test, i + 1), n_long, n_bits)
        lengths.append(exact_sums(params, xl, tl, cell))
    return {
        "ab": ab,
        "t5": t5,
        "y5": models.adder_apply(params, x5, cell=cell) > 0,
        "all_pairs": exact_sums(params, *datasets.all_addition_pairs(bits), cell),
        "lengths": lengths,
    }


def main(argv=None, context=None) -> dict:
    args, context = cli.start(Args, argv, __doc__, context)
    if args.candidates < 1 or args.n_long < 1:
        raise ValueError("--candidates and --n-long must be >= 1")
    cfg = dataclasses.replace(args.train.config(), eval_every=1)
    out = args.output.folder(Path("results") / "binary_addition" / str(cfg.optimizer))
    metrics = cli.reuse_or_run(out, "binary_addition", args, context, lambda: run(args, cfg, out))
    report(metrics, args, out)
    return metrics


def run(args: Args, cfg: rj.TrainConfig, out: Path) -> dict:
    train = rj.make_train(cfg)
    keys = jax.random.wrap_key_data(runs.seed_keys(args.seed, np.arange(args.candidates)))
    with train.precision():  # the config's dtype (float32), whatever the global setting
        outcome = jax.jit(jax.vmap(train))(keys)
    converged, first, curves = jax.device_get(
        (outcome.converged, outcome.first_converged_update, outcome.loss_curve)
    )
    pick = int(np.argmax(converged)) if converged.any() else 0
    cell = rj.cells.CELLS[cfg.cell]
    key = jax.random.key(args.seed)
    tests = evaluate(
        outcome.params,
        pick,
        key,
        bits=cfg.bits,
        test_bits=args.test_bits,
        n_long=args.n_long,
        cell=cell,
    )

    # The shown seed's own starting point and data (its cell, size and scale), as trained.
    def start(key):
        seed_keys = rj.train_keys(key)
        xs, ts = train.task.data(seed_keys.data)
        return xs, ts, train.task.init(seed_keys.init, train.hparams)

    with train.precision():
        xs, ts, p_init = jax.jit(start)(keys[pick])
    with jax.enable_x64(True):  # the gradient check is float64, in this scope only
        grad_err = gradient_check(p_init, xs, ts, cell)

    tests = jax.device_get(tests)
    # Five test sums in the seed's layout.
    ab, t5, y5 = tests["ab"], tests["t5"].astype(int), tests["y5"].astype(int)
    examples = [layout(int(a), int(b), t5[i], y5[i]) for i, (a, b) in enumerate(ab)]
    acc_all = float(tests["all_pairs"])
    lengths = {str(b): float(a) for b, a in zip(args.test_bits, tests["lengths"])}

    curve = curves[pick]
    plots.curve_figure(
        {f"seed {pick}": curve},
        out / "cost.png",
        "minibatch update",
        "cost (BCE)",
        title=f"Seed 002: cost per minibatch ({train.optimizer.name})",
    )
    bits_axis = [cfg.bits, *args.test_bits]
    plots.xy_figure(
        bits_axis,
        [acc_all, *(lengths[str(b)] for b in args.test_bits)],
        out / "length_generalisation.png",
        "operand length (bits)",
        "fraction of sums exactly right",
        title=f"Trained on {cfg.bits}-bit sums (seed index {pick}); exact on all "
        f"{4**cfg.bits} {cfg.bits}-bit pairs\nand on {args.n_long} random sums per longer length",
        logx=True,
    )
    return {
        "config": identity.train_identity(train),
        "hparams": train.hparams,
        "candidates": args.candidates,
        "converged_candidates": int(converged.sum()),
        "shown_seed_index": pick,
        "shown_converged": bool(converged[pick]),
        "first_converged_update": int(first[pick]),
        "gradient_check_max_relative_error": grad_err,
        "final_cost": float(curve[-1]),
        "accuracy_all_pairs": acc_all,
        "length_generalisation_accuracy": lengths,
        "examples": examples,
    }


def report(metrics: dict, args: Args, out: Path) -> None:
    pick, bits = metrics["shown_seed_index"], metrics["config"]["bits"]
    print(
        f"gradient check (hand BPTT vs central differences, float64): max relative error "
        f"{metrics['gradient_check_max_relative_error']:.2e}"
    )
    print(
        f"{metrics['converged_candidates']}/{args.candidates} seeds converged; showing seed "
        f"index {pick} ({'converged' if metrics['shown_converged'] else 'did not converge'}), "
        f"final cost {metrics['final_cost']:.4f}"
    )
    print("\n\n".join(metrics["examples"]))
    acc = metrics["accuracy_all_pairs"]
    print(f"\naccuracy over all {4**bits} pairs of {bits}-bit numbers: {acc:.2%}")
    lengths = metrics["length_generalisation_accuracy"]
    print("length generalisation: " + ", ".join(f"{b}-bit {a:.1%}" for b, a in lengths.items()))
    print(f"-> {out}")


if __name__ == "__main__":
    cli.script(main)
