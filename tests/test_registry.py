"""Registries: read-only name -> object mappings whose failed lookups name the valid keys."""

import pytest

from rnn_jax._src.registry import Registry, UnknownNameError


def test_lookup_and_errors():
    r = Registry("colour", {"red": 1, "blue": 2})
    assert r["red"] == 1 and sorted(r) == ["blue", "red"] and len(r) == 2
    for bad in ("green", ["red"]):
        with pytest.raises(UnknownNameError, match=r"colour must be one of \['blue', 'red'\]"):
            r[bad]
    with pytest.raises(ValueError):  # both a KeyError and a ValueError
        r["green"]
    with pytest.raises(KeyError):
        r["green"]
    with pytest.raises(TypeError):
        r["green"] = 3  # read-only
