"""The seed networks: the counter (seed 000), the tagger (seed 001) and the adder (seed 002)."""

from rnn_jax._src.models import AdderParams as AdderParams
from rnn_jax._src.models import TaggerParams as TaggerParams
from rnn_jax._src.models import adder_apply as adder_apply
from rnn_jax._src.models import adder_init as adder_init
from rnn_jax._src.models import adder_loss as adder_loss
from rnn_jax._src.models import adder_tree_accuracy as adder_tree_accuracy
from rnn_jax._src.models import counter_apply as counter_apply
from rnn_jax._src.models import counter_init as counter_init
from rnn_jax._src.models import counter_loss as counter_loss
from rnn_jax._src.models import tagger_apply as tagger_apply
from rnn_jax._src.models import tagger_init as tagger_init
from rnn_jax._src.models import tagger_loss as tagger_loss

__all__ = [
    "AdderParams",
    "TaggerParams",
    "adder_apply",
    "adder_init",
    "adder_loss",
    "adder_tree_accuracy",
    "counter_apply",
    "counter_init",
    "counter_loss",
    "tagger_apply",
    "tagger_init",
    "tagger_loss",
]
