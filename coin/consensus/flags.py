"""Which script rules a block's inputs are verified under: Core's GetBlockScriptFlags.

P2SH (BIP-0016) and WITNESS (BIP-0141) are on for every block except Core's exception
block (mainnet 00000000000002dc…9c22, verified with no flags), then DERSIG (BIP-0066),
CHECKLOCKTIMEVERIFY (BIP-0065), CHECKSEQUENCEVERIFY (BIP-0112) and NULLDUMMY (BIP-0147,
with segwit) from their activation heights.

Taproot (BIP-0341/342) is not part of our rules yet (DESIGN.md), so TAPROOT is never
set: witness v1 outputs are verified as an un-upgraded Core node would (anyone can spend
them). Core's Taproot exception block therefore needs no special case here: its flags
(P2SH|WITNESS) are what every other block gets.
"""

from coin.script.flags import Flags
from coin.serialize import hash_to_hex

__all__ = ["get_block_script_flags"]


def get_block_script_flags(height: int, block_hash_bytes: bytes, params) -> Flags:
    """Core's GetBlockScriptFlags for the block at `height` with hash `block_hash_bytes`."""
    flags = Flags.P2SH | Flags.WITNESS
    exception = params.p2sh_exception_block_hash
    if exception is not None and hash_to_hex(block_hash_bytes) == exception:
        flags = Flags.NONE
    if height >= params.bip66_height:
        flags |= Flags.DERSIG
    if height >= params.bip65_height:
        flags |= Flags.CHECKLOCKTIMEVERIFY
    if height >= params.csv_height:
        flags |= Flags.CHECKSEQUENCEVERIFY
    if height >= params.segwit_height:
        flags |= Flags.NULLDUMMY
    return flags
