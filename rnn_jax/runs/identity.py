"""A run's identity: everything that decides its numbers (settings and environment), built
in one place."""

from rnn_jax._src.runs.fingerprint import UnfingerprintableError as UnfingerprintableError
from rnn_jax._src.runs.fingerprint import fingerprint as fingerprint
from rnn_jax._src.runs.identity import ISA_FEATURES as ISA_FEATURES
from rnn_jax._src.runs.identity import NOT_IDENTITY as NOT_IDENTITY
from rnn_jax._src.runs.identity import describe as describe
from rnn_jax._src.runs.identity import differences as differences
from rnn_jax._src.runs.identity import environment as environment
from rnn_jax._src.runs.identity import script_identity as script_identity
from rnn_jax._src.runs.identity import source_hash as source_hash
from rnn_jax._src.runs.identity import sweep_identity as sweep_identity
from rnn_jax._src.runs.identity import train_identity as train_identity

__all__ = [
    "ISA_FEATURES",
    "NOT_IDENTITY",
    "UnfingerprintableError",
    "describe",
    "differences",
    "environment",
    "fingerprint",
    "script_identity",
    "source_hash",
    "sweep_identity",
    "train_identity",
]
