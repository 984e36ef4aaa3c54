"""Benchmarks of parsing and serialization (coin.primitives).

Measured on real mainnet blocks from ../shared/vectors/blocks (never copied here), with
python-bitcoinlib parsing the same bytes as the baseline.
"""

from __future__ import annotations

from bench import VECTORS, Measure, benchmark, best_rates

__all__ = ["modern_blocks"]

_MB = 1e6


def modern_blocks() -> list[bytes]:
    """The raw modern mainnet blocks (SegWit era) in the vectors."""
    paths = sorted((VECTORS / "blocks").glob("mainnet-block-0*.bin"))
    if not paths:
        raise FileNotFoundError(f"no mainnet-block-*.bin under {VECTORS / 'blocks'}")
    return [p.read_bytes() for p in paths]


@benchmark("parse.blocks")
def parse_blocks() -> Measure:
    """Block.from_bytes + to_bytes vs python-bitcoinlib CBlock.deserialize + serialize."""
    from bitcoin.core import CBlock

    from coin.primitives import Block

    blocks = modern_blocks()
    total = sum(len(b) for b in blocks)
    for raw in blocks:  # both must round-trip before their speed means anything
        if Block.from_bytes(raw).to_bytes() != raw or CBlock.deserialize(raw).serialize() != raw:
            raise AssertionError("a block does not round-trip")

    def ours() -> None:
        for raw in blocks:
            Block.from_bytes(raw).to_bytes()

    def theirs() -> None:
        for raw in blocks:
            CBlock.deserialize(raw).serialize()

    rate, base = best_rates((ours, total), (theirs, total), seconds=0.4, repeat=3)
    return Measure(
        rate / _MB, "MB/s", base / _MB, "python-bitcoinlib CBlock",
        extra={"blocks": len(blocks), "bytes": total},
    )
