"""A run's identity: settings and environment."""

from rnn_jax.runs import identity


def test_identity_names_code_versions_and_hardware():
    env = identity.environment()
    assert len(env["rnn_jax_source_sha256"]) == 64
    for key in ("jax", "jaxlib", "optax", "backend", "device", "cpu"):
        assert env[key]
    assert identity.differences({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == [
        "a.c",
        "d",
    ]
