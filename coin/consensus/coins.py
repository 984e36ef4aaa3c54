"""Coins (unspent outputs) and the view of the UTXO set that validation works against.

`Coin` is Core's Coin: the output, the height of the block that created it and whether
that transaction was a coinbase. `CoinsView` is the protocol consensus code needs from a
UTXO view; the chain implements it over LevelDB with caches (coin.chain.coinsview).
`MemoryCoinsView` is a plain dict-backed implementation of the same protocol, for tests
and for throwaway views.
"""

from typing import NamedTuple, Protocol, runtime_checkable

from coin.consensus.errors import InternalError
from coin.primitives import OutPoint, TxOut

__all__ = ["Coin", "CoinsView", "MemoryCoinsView"]


class Coin(NamedTuple):
    """An unspent output with the metadata validation needs (Core's Coin).

    A NamedTuple like TxOut and OutPoint: immutable, and made for every output a block
    creates, so it is kept as cheap to build as Python allows.
    """

    output: TxOut
    height: int
    is_coinbase: bool


@runtime_checkable
class CoinsView(Protocol):
    """What consensus code needs from a UTXO view (Core's CCoinsViewCache subset)."""

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The unspent coin at `outpoint`, or None."""

    def have_coin(self, outpoint: OutPoint) -> bool:
        """Whether `outpoint` is unspent."""

    def spend_coin(self, outpoint: OutPoint) -> Coin | None:
        """Remove the coin at `outpoint` and return it (None if it was not there)."""

    def add_coin(self, outpoint: OutPoint, coin: Coin, possible_overwrite: bool) -> None:
        """Add a coin; InternalError if one is unspent there and not `possible_overwrite`."""


class MemoryCoinsView:
    """A CoinsView over a dict: every coin in memory, nothing persisted."""

    __slots__ = ("coins",)

    def __init__(self, coins: dict[OutPoint, Coin] | None = None):
        self.coins: dict[OutPoint, Coin] = dict(coins) if coins else {}

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        return self.coins.get(outpoint)

    def have_coin(self, outpoint: OutPoint) -> bool:
        return outpoint in self.coins

    def spend_coin(self, outpoint: OutPoint) -> Coin | None:
        return self.coins.pop(outpoint, None)

    def add_coin(self, outpoint: OutPoint, coin: Coin, possible_overwrite: bool) -> None:
        if not possible_overwrite and outpoint in self.coins:
            raise InternalError(
                "Attempted to overwrite an unspent coin (when possible_overwrite is false)")
        self.coins[outpoint] = coin

    def copy(self) -> "MemoryCoinsView":
        return MemoryCoinsView(self.coins)

    def __len__(self) -> int:
        return len(self.coins)
