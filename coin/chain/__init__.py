"""coin.chain: block storage, the block index, the UTXO set and the chain state.

Purpose: keep the most-work valid chain of one network, persisted so that a crash at
any instant restarts consistently. Consensus rules themselves live in coin.consensus;
this package stores, selects and drives them.

Outline (one module per concept, lower ones first):
- `layout`: the database schema, the ONE place LevelDB keys and records are built,
  with a byte-by-byte description and worked examples of every record.
- `db`: `ChainDB`, a thin plyvel wrapper (get/put/delete, prefix iteration, atomic
  batches with sync).
- `blockfiles`: raw blocks and undo data in Core's blkNNNNN.dat / revNNNNN.dat format
  (`BlockFiles`, `FilePos`), and `read_blk_file` for -loadblock / reindex.
- `coinsview`: `CoinsViewDB` (coins in LevelDB) and `CoinsViewCache` (Core's write-back
  cache with DIRTY/FRESH entries), implementing coin.consensus.coins.CoinsView.
- `blockindex`: `BlockStatus`, `BlockIndexEntry` (skip pointers, median time past),
  `BlockIndex`, `ActiveChain` (tip, contains, next, locator, find_fork).
- `chainstate`: `ChainState`: accept headers and blocks, activate the best chain
  (reorganisations of any depth), invalidate/reconsider, orphan blocks, flushes,
  -loadblock, reindex, events (block_connected, block_disconnected, tip_changed), and
  the queries the RPC needs (chain_tips, utxo_stats, ...).

Error contract: validation failures raise coin.consensus.errors.Rejection with Bitcoin
Core's reason strings (prev-blk-not-found, bad-prevblk, duplicate-invalid, and every
reason of coin.consensus); corruption of our own files or database raises
coin.consensus.errors.InternalError; nothing from the network can raise anything else.

BIPs: storage and selection only; the rules (BIP-0030/0034/0065/0066/0068/0112/0113/
0141/0143/0147) are applied through coin.consensus.
"""

from coin.chain.blockindex import ActiveChain, BlockIndex, BlockIndexEntry, BlockStatus
from coin.chain.chainstate import ChainState, UtxoStats
from coin.chain.coinsview import CoinsViewCache, CoinsViewDB

__all__ = [
    "ChainState",
    "UtxoStats",
    "BlockIndexEntry",
    "BlockIndex",
    "BlockStatus",
    "ActiveChain",
    "CoinsViewCache",
    "CoinsViewDB",
]
