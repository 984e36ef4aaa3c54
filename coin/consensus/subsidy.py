"""The block subsidy: 50 coins halving every `params.subsidy_halving_interval` blocks."""

from coin.consensus.constants import COIN

__all__ = ["get_block_subsidy"]


def get_block_subsidy(height: int, params) -> int:
    """Core's GetBlockSubsidy: 50 BTC >> (height // interval), zero from 64 halvings on."""
    halvings = height // params.subsidy_halving_interval
    if halvings >= 64:
        return 0
    return (50 * COIN) >> halvings
