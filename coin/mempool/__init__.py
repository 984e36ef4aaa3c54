"""coin.mempool: the pool of unconfirmed transactions and the relay policy around it.

Purpose: decide which valid transactions a node keeps, relays and mines (Bitcoin Core
v28's policy and CTxMemPool), keep them consistent with the active chain, and answer
what RPC, P2P and mining ask of them.

Outline (one module per concept):
- `policy`    relay policy apart from consensus: IsStandardTx, dust, AreInputsStandard,
              IsWitnessStandard, CFeeRate (`FeeRate`), the settings (`Policy`).
- `entry`     `MempoolEntry`: one transaction with its fees, sizes and the ancestor /
              descendant aggregates; the memory accounting.
- `pool`      `Mempool`: accept (Core's order of checks), full RBF (BIP-0125 rules as
              Core v28), package limits, eviction with the rolling minimum fee, expiry,
              block connect / disconnect (reorgs), block template selection, queries.
- `orphans`   `OrphanPool`: transactions waiting for their parents, bounded.
- `persist`   `save_mempool` / `load_mempool`: mempool.dat (Core's version-1 format).
- `fees`      `FeeEstimator`: estimatesmartfee from confirmation statistics.

Error contract: refusals raise coin.consensus.errors.Rejection with Core's reason,
debug message and kind (POLICY / DUPLICATE / CONFLICT / MISSING_INPUTS with ban score 0,
CONSENSUS with 100); broken invariants raise InternalError. Nothing the network sends
raises anything else.

BIPs: BIP-0125 (replacement; full RBF by default, as Core v28), BIP-0068/0112/0113
(lock times for the next block), BIP-0141/0143/0144 (weight, witness standardness).

This package re-exports the names callers need.
"""

from coin.mempool.fees import FeeEstimator, smart_fee_result
from coin.mempool.orphans import OrphanPool
from coin.mempool.persist import load_mempool, save_mempool
from coin.mempool.policy import FeeRate, Policy
from coin.mempool.pool import AcceptResult, BlockTx, Limits, Mempool, RemovalReason

__all__ = [
    "AcceptResult",
    "BlockTx",
    "FeeEstimator",
    "FeeRate",
    "Limits",
    "Mempool",
    "OrphanPool",
    "Policy",
    "RemovalReason",
    "load_mempool",
    "save_mempool",
    "smart_fee_result",
]
