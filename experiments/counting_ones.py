"""Seed 000: a scalar linear RNN counts the ones in a binary stream; Rprop vs gradient descent.

Reproduces the seed exactly (float64, its printed data, start (w_x, w_rec) = (-1.5, 2), 500
steps of its Rprop rule -> w_x = 1.0014, w_rec = 0.9997, test output 5.00), shows why it needed
Rprop (gradient descent explodes or crawls from the same start), draws the loss surface with
every optimizer's path and the gradient's explosion past |w_rec| > 1, and tests the trained
counter on sequences 10 and 100 times longer than it was trained on.

    python experiments/counting_ones.py [--out DIR] [--steps 500]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.colors import LogNorm

import rnn_jax as rj
from rnn_jax import datasets, models
from rnn_jax.runs import cli, plots


@dataclasses.dataclass(frozen=True)
class Args:
    """Seed 000 reproduced and extended."""

    seed: Annotated[
        int, cli.flag("the seed of the length-generalisation test sequences.", "SEED")
    ] = 0
    steps: Annotated[int, cli.flag("Rprop and gradient-descent steps (the seed's 500).", "N")] = 500
    delta0: Annotated[float, cli.flag("Rprop's initial step (the seed's 0.001).", "X")] = 0.001
    gd_learning_rates: Annotated[
        tuple[float, ...], cli.flag("gradient descent's learning rates, for comparison.", "LR")
    ] = (1e-8, 1e-7, 1e-6, 1e-4)
    test_lengths: Annotated[
        tuple[int, ...], cli.flag("sequence lengths the trained counters are tested on.", "T")
    ] = (10, 100, 1000)
    grid: Annotated[int, cli.flag("points per axis of the loss-surface figure.", "N")] = 120
    output: cli.Output = cli.Output()
    compile_cache: cli.CompileCache = cli.CompileCache()


def loss_fn(p, X, T):
    return models.counter_loss(p, X, T)


def optimizers(args: Args) -> dict:
    """The compared optimizers by name: the seed's Rprop rule, the other Rprop variants, then
    gradient descent at each learning rate."""
    opts = {"rprop (seed rule)": rj.rprop(args.delta0, variant="seed")}
    for v in ("rprop-", "irprop-", "rprop+", "irprop+"):
        opts[v] = rj.rprop(args.delta0, variant=v)
    for lr in args.gd_learning_rates:
        opts[f"gd lr={lr:g}"] = optax.sgd(lr)
    return opts


def _compute(args: Args, key) -> tuple:
    """Every number of the run and the figures' data, as one program (one compile).

    Every optimizer runs its own :func:`rnn_jax.fit` (the same program it is alone, so the
    same paths); in one program XLA compiles the kernels they share once. The test sequences
    are drawn inside the program and the trained counters run on them together (vmapped over
    the optimizers). Returns ``(runs, final_losses, test_output, targets, outputs,
    figure_data)``: ``runs`` and ``final_losses`` are lists in the order of
    :func:`optimizers` (a dict would come back sorted by name); ``targets[i]`` and
    ``outputs[i]`` (one row per optimizer) are for ``args.test_lengths[i]``.
    """
    X, T = jnp.asarray(datasets.SEED000_X), jnp.asarray(datasets.SEED000_T)
    p0 = models.counter_init(-1.5, 2.0, jnp.float64)
    runs = [rj.fit(loss_fn, p0, opt, args.steps, X, T) for opt in optimizers(args).values()]
    finals = [loss_fn(p, X, T) for p, _ in runs]
    test_out = models.counter_apply(runs[0][0], datasets.SEED000_TEST)[0]

    # Length generalisation: train on length 10, test on much longer sequences. The error of
    # a count over n steps grows like n * |w_rec - 1| * count, so only near-exact weights carry.
    trained = jax.tree.map(lambda *a: jnp.stack(a), *(p for p, _ in runs))
    targets, outputs = [], []
    for i, n in enumerate(args.test_lengths):
        xs, t = datasets.counting_ones_data(jax.random.fold_in(key, i), 100, n, jnp.float64)
        targets.append(t)
        outputs.append(jax.vmap(models.counter_apply, in_axes=(0, None))(trained, xs))
    return runs, finals, test_out, targets, outputs, _figure_data(args, X, T)


def run(args: Args) -> dict:
    compute = jax.jit(lambda key: _compute(args, key))
    runs, finals, test_out, targets, outputs, figure_data = jax.device_get(
        compute(jax.random.key(args.seed))
    )
    names = list(optimizers(args))
    runs, finals = dict(zip(names, runs)), dict(zip(names, finals))
    seed_p = runs["rprop (seed rule)"][0]
    w_x, w_rec = float(seed_p.w_x[0, 0]), float(seed_p.w_rec[0, 0])

    summary = {}
    for name, (p, hist) in runs.items():
        summary[name] = {
            "w_x": float(p.w_x[0, 0]),
            "w_rec": float(p.w_rec[0, 0]),
            "final_loss": float(finals[name]),
            "diverged": bool(hist["diverged"]),
            "diverged_step": int(hist["diverged_step"]),
        }

    lengths = {}
    for k, (name, (_, hist)) in enumerate(runs.items()):
        if bool(hist["diverged"]):
            continue
        per = {}
        for n, t, out in zip(args.test_lengths, targets, outputs):
            err = np.abs(out[k] - t)
            per[str(n)] = {
                "mean_abs_error": float(err.mean()),
                "max_abs_error": float(err.max()),
                "exact_after_rounding": float(np.mean(np.round(out[k]) == t)),
            }
        lengths[name] = per
    return {
        "final_weights": {"w_x": w_x, "w_rec": w_rec},
        "test_output": float(test_out),
        "test_target": int(datasets.SEED000_TEST.sum()),
        "optimizers": summary,
        "length_generalisation": lengths,
        "_runs": runs,
        "_figure_data": figure_data,
    }


def _figure_data(args: Args, X, T, lo=(-3.0, -3.0), hi=(3.0, 3.0)) -> dict:
    """The loss on a ``grid`` x ``grid`` mesh, and the gradient along ``w_rec`` at ``w_x = 1``
    (401 points), each one vmapped evaluation."""
    wx = np.linspace(lo[0], hi[0], args.grid)
    wr = np.linspace(lo[1], hi[1], args.grid)
    WX, WR = np.meshgrid(wx, wr)

    def one(a, b):
        return loss_fn(models.counter_init(a, b, jnp.float64), X, T)

    L = jax.vmap(jax.vmap(one))(jnp.asarray(WX), jnp.asarray(WR))
    w_rec = np.linspace(-2.0, 2.0, 401)
    grad = jax.vmap(lambda b: jax.grad(loss_fn)(models.counter_init(1.0, b, jnp.float64), X, T))
    return {"WX": WX, "WR": WR, "L": L, "w_rec": w_rec, "grad": grad(jnp.asarray(w_rec))}


def figures(result: dict, out) -> None:
    """The loss surface with every optimizer's path, and the gradient's explosion."""
    data = result["_figure_data"]
    WX, WR, L = data["WX"], data["WR"], data["L"]
    fig, ax = plots.subplots((6.5, 5.2))
    c = ax.pcolormesh(WX, WR, np.maximum(L, 1e-8), norm=LogNorm(), cmap="viridis", shading="auto")
    fig.colorbar(c, ax=ax, label="MSE (log scale)")
    for name, (_, hist) in result["_runs"].items():
        path = hist["params"]
        px, pr = np.asarray(path.w_x[:, 0, 0]), np.asarray(path.w_rec[:, 0, 0])
        keep = np.isfinite(px) & np.isfinite(pr) & (np.abs(px) < 3) & (np.abs(pr) < 3)
        ax.plot(px[keep], pr[keep], lw=1.2, label=name)
    ax.plot([-1.5], [2.0], "w*", ms=10, label="start")
    ax.plot([1.0], [1.0], "r+", ms=12, label="solution (1, 1)")
    ax.set_xlabel("w_x")
    ax.set_ylabel("w_rec")
    ax.set_title("Seed 000: loss surface and optimizer paths", fontsize=10)
    ax.legend(fontsize=6, loc="lower left")
    plots.save(fig, out / "loss_surface.png")

    # Gradient magnitude along w_rec at w_x = 1: explodes past |w_rec| > 1 (~ w_rec^T).
    wr, g = data["w_rec"], data["grad"]
    mag = np.sqrt(np.asarray(g.w_x[:, 0, 0]) ** 2 + np.asarray(g.w_rec[:, 0, 0]) ** 2)
    fig, ax = plots.subplots((6, 3.6))
    ax.semilogy(wr, np.maximum(mag, 1e-12))
    ax.axvline(1.0, color="grey", ls=":")
    ax.axvline(-1.0, color="grey", ls=":")
    ax.set_xlabel("w_rec (w_x = 1)")
    ax.set_ylabel("|dL/dw|")
    ax.set_title("Gradient explodes past |w_rec| > 1 (10 steps: ~|w_rec|^9)", fontsize=10)
    plots.save(fig, out / "gradient_explosion.png")


def _g(x) -> str:
    return "inf" if x is None else f"{x:.3g}"  # JSON has no inf: saved as null


def report(metrics: dict, out: Path) -> None:
    fw = metrics["final_weights"]
    print(
        f"seed rule: w_x = {fw['w_x']:.4f}, w_rec = {fw['w_rec']:.4f}; test sequence "
        f"(target {metrics['test_target']}) -> {metrics['test_output']:.2f}"
    )
    for name, s in metrics["optimizers"].items():
        status = f"diverged at step {s['diverged_step']}" if s["diverged"] else "finite"
        loss = "inf" if s["final_loss"] is None else f"{s['final_loss']:.3g}"  # JSON null: inf
        print(f"  {name:>18}: final loss {loss} ({status})")
    print("length generalisation (mean |error|, exact after rounding):")
    for name, per in metrics["length_generalisation"].items():
        cells = ", ".join(
            f"T={n}: {_g(s['mean_abs_error'])} / {s['exact_after_rounding']:.0%}"
            for n, s in per.items()
        )
        print(f"  {name:>18}: {cells}")
    print(f"-> {out}")


def main(argv=None, context=None) -> dict:
    args, context = cli.start(Args, argv, __doc__, context)
    if args.steps < 1 or args.grid < 2 or args.delta0 <= 0:
        raise ValueError("--steps >= 1, --grid >= 2 and --delta0 > 0 required")
    out = args.output.folder(Path("results") / "counting_ones" / "default")

    def compute() -> dict:
        with jax.enable_x64(True):  # the seed's numbers, in float64, for this run only
            result = run(args)
            figures(result, out)
        return {k: v for k, v in result.items() if not k.startswith("_")}

    metrics = cli.reuse_or_run(out, "counting_ones", args, context, compute)
    report(metrics, out)
    return metrics


if __name__ == "__main__":
    cli.script(main)
