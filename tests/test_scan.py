"""The forward scan's option and argument checks (the scan itself is tested through unroll)."""

import jax.numpy as jnp
import pytest

import rnn_jax as rj
from rnn_jax._src import scan


@pytest.mark.parametrize("backward,layout,unroll,match", [
    ("manual", "BTF", 1, "backward must be one of"),
    ("bptt", "FBT", 1, "layout must be one of"),
    ("bptt", "BTF", 0, "scan_unroll must be >= 1"),
])  # fmt: skip
def test_check_options_names_the_option(backward, layout, unroll, match):
    with pytest.raises(ValueError, match=match):
        scan.check_options(backward, layout, unroll)


def test_prepare_returns_the_tfb_layout(key):
    params = rj.cells.tanh.init(key, 2, 3, jnp.float64)
    xs = jnp.arange(24.0, dtype=jnp.float64).reshape(4, 3, 2)  # (B, T, F)
    mask = jnp.ones((4, 3), bool)
    tfb, carry, m = scan.prepare(rj.cells.tanh, params, xs, None, mask, None, "BTF")
    assert tfb.shape == (3, 2, 4) and float(tfb[1, 0, 2]) == float(xs[2, 1, 0])
    assert carry.shape == (3, 4) and m.shape == (3, 4)
    with pytest.raises(TypeError, match="cell must be an rnn_jax Cell"):
        scan.prepare(object(), params, xs, None, None, None, "BTF")
