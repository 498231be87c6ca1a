"""Read-only name -> object mappings (cells, optimizers, tasks) with one-line lookup errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """A name that a registry does not hold; both a ``KeyError`` and a ``ValueError``."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0])


class Registry(Mapping[str, T], Generic[T]):
    """An immutable mapping whose failed lookups name the valid keys.

    Example:
      >>> from rnn_jax.cells import CELLS
      >>> CELLS["tanh"].name
      'tanh'
      >>> try:
      ...     CELLS["elman"]
      ... except ValueError as e:
      ...     print(e)
      cell must be one of ['gru', 'linear', 'lstm', 'tanh'], got 'elman'
    """

    def __init__(self, kind: str, entries: Mapping[str, T]):
        self._kind = kind
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(
                f"{self._kind} must be one of {sorted(self._entries)}, got {name!r}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self._kind}: {sorted(self._entries)})"
