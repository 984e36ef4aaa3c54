"""The chain follower: keeps a wallet's view of the chain in step with a node, over JSON-RPC.

`ChainFollower(wallet, rpc).sync()` brings the wallet from its last processed block to
the node's tip:

1. Fork point. The wallet keeps the hash of every block it processed (`block_hashes`).
   Walking down from min(wallet tip, node tip), the first height whose stored hash
   equals the node's `getblockhash` is the fork point; everything above it is rolled
   back (`Wallet.rewind`: those transactions and coins become unconfirmed). A wallet
   that has processed nothing starts at its birthday height (0 = genesis).
2. Blocks. Heights fork+1 .. tip are read in batches: one JSON-RPC batch of
   `getblockhash`, one of `getblock(hash, 0)` (raw, parsed with `Block.from_bytes`:
   exact, and measured cheaper than verbosity 2 JSON). Each block's header must hash
   to the hash asked for and link to the previous one; if the node reorganised while
   we read, the pass stops and the loop starts again from step 1. Each batch is one
   store transaction (a crash loses at most the batch, never consistency).
   In each transaction: an input spending one of our coins marks it spent; an output
   paying one of the watched scripts is a coin (coinbase flag, height). Receiving on a
   script marks it used, which extends its chain's gap-limit window
   (`Wallet.mark_used`), and the newly derived scripts are watched from the next
   transaction on: a restore finds every address used within the gap limit.
3. Mempool. `getrawmempool` and `getrawtransaction` for the txids the wallet has not
   seen: unconfirmed payments to us and spends of our coins are recorded (height
   NULL). Then every unconfirmed wallet transaction that is neither in a block nor in
   the node's mempool (replaced, conflicted, or a coinbase of a disconnected block)
   is forgotten, and the coins it spent are unspent again. A node without
   `getrawmempool` skips this step (nothing is forgotten then).
4. If the node's tip moved meanwhile, repeat (bounded).

Errors: `SyncError` when the node's answers are inconsistent beyond a retry (a block
that does not hash to the hash asked for); RPC and connection errors of
`coin.rpc.client` propagate unchanged (the CLI turns them into one line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from coin.primitives import Block, Transaction
from coin.rpc.client import RPCError

__all__ = ["ChainFollower", "SyncError", "SyncResult", "rpc_batch"]

#: blocks fetched per JSON-RPC batch (and written per store transaction)
DEFAULT_BATCH = 25
_MAX_PASSES = 8


class SyncError(Exception):
    """The node's chain could not be followed (inconsistent answers)."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one `sync()` did."""

    tip_height: int
    tip_hash: str
    blocks: int           # blocks read and processed
    rolled_back: int      # blocks undone by reorganisations
    transactions: int     # wallet transactions recorded or updated from blocks
    mempool: bool         # whether the node's mempool was consulted


def rpc_batch(rpc, calls: Iterable[tuple[str, list]], *, errors: bool = False) -> list[Any]:
    """Run `calls` ([(method, params)]) as one JSON-RPC batch; results in call order.

    With `errors=False` the first error reply raises RPCError; with `errors=True` an
    error reply yields its RPCError in the result list instead.
    A client without batch support (no `post`) gets one call per request.
    """
    calls = list(calls)
    if not calls:
        return []
    post = getattr(rpc, "post", None)
    if post is None:
        out = []
        for method, params in calls:
            try:
                out.append(rpc.call(method, *params))
            except RPCError as exc:
                if not errors:
                    raise
                out.append(exc)
        return out
    replies = post([{"method": m, "params": list(p), "id": i} for i, (m, p) in enumerate(calls)])
    if not isinstance(replies, list):
        raise SyncError("the node did not answer a JSON-RPC batch with a list")
    by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
    out = []
    for i in range(len(calls)):
        reply = by_id.get(i)
        if reply is None:
            raise SyncError("the node's batch reply lacks an answer")
        err = reply.get("error")
        if err is not None:
            exc = RPCError(int(err.get("code", -1)), str(err.get("message", ""))) \
                if isinstance(err, dict) else RPCError(-1, str(err))
            if not errors:
                raise exc
            out.append(exc)
        else:
            out.append(reply.get("result"))
    return out


class _Restart(Exception):
    """The node's chain changed under us: go back to the fork search."""


class ChainFollower:
    """Syncs one open `Wallet` (locked is fine) with the node behind `rpc`.

    `rpc` needs `call(method, *params)` and, for batches, `post(request_list)` (both
    as `coin.rpc.client.RPCClient`). `progress(done, total)` is called after each batch
    of blocks.
    """

    def __init__(self, wallet, rpc, *, batch_size: int = DEFAULT_BATCH,
                 progress: Callable[[int, int], None] | None = None, mempool: bool = True):
        self.wallet = wallet
        self.rpc = rpc
        self.batch_size = max(1, batch_size)
        self.progress = progress
        self.use_mempool = mempool
        self._watched: set[bytes] = set()
        self._outpoints: set[tuple[bytes, int]] = set()
        self._irrelevant: set[str] = set()   # mempool txids seen not to concern us

    # --- the loop -------------------------------------------------------------------

    def sync(self) -> SyncResult:
        """Bring the wallet to the node's tip (see the module doc). Returns a SyncResult."""
        blocks = rolled = txs = 0
        mempool = False
        for _ in range(_MAX_PASSES):
            self._watched = self.wallet.watched_scripts()
            self._outpoints = self.wallet.outpoints()
            tip = int(self.rpc.call("getblockcount"))
            fork = self._find_fork(tip)
            best = self.wallet.best_block()
            if best is not None and best[1] > fork:
                rolled += best[1] - fork
                self.wallet.rewind(fork)
            try:
                b, t = self._scan(fork + 1, tip)
            except _Restart:
                continue
            blocks += b
            txs += t
            if self.use_mempool:
                mempool = self._scan_mempool()
            tip_hash = self.rpc.call("getbestblockhash")
            best = self.wallet.best_block()
            if best is not None and best[0][::-1].hex() == tip_hash:
                return SyncResult(best[1], tip_hash, blocks, rolled, txs, mempool)
            if best is None and tip < self.wallet.birthday_height:
                return SyncResult(tip, tip_hash, blocks, rolled, txs, mempool)
        raise SyncError("the node's tip kept changing while syncing; try again")

    def _find_fork(self, tip: int) -> int:
        """The highest height <= tip at which the wallet's block hash is the node's."""
        start = self.wallet.birthday_height
        best = self.wallet.best_block()
        if best is None:
            return start - 1
        h = min(best[1], tip)
        while h >= start:
            stored = self.wallet.block_hash(h)
            if stored is not None and bytes.fromhex(self.rpc.call("getblockhash", h))[::-1] == stored:
                return h
            h -= 1
        return start - 1

    def _scan(self, start: int, stop: int) -> tuple[int, int]:
        """Process blocks start..stop (inclusive); returns (blocks, wallet txs)."""
        total = max(0, stop - start + 1)
        done = txs = 0
        prev = self.wallet.block_hash(start - 1) if start > 0 else None
        height = start
        while height <= stop:
            end = min(stop, height + self.batch_size - 1)
            heights = range(height, end + 1)
            try:
                hashes = rpc_batch(self.rpc, [("getblockhash", [h]) for h in heights])
                raws = rpc_batch(self.rpc, [("getblock", [h, 0]) for h in hashes])
            except RPCError as exc:
                # -8 height out of range / -5 block not found: the chain moved.
                if exc.code in (-8, -5, -1):
                    raise _Restart from None
                raise
            with self.wallet.batch():
                for h, hash_hex, raw in zip(heights, hashes, raws, strict=True):
                    block = Block.from_bytes(bytes.fromhex(raw))
                    if block.hash != hash_hex:
                        raise SyncError(f"block {hash_hex} from the node hashes to {block.hash}")
                    if prev is not None and block.header.prev_hash_bytes != prev:
                        raise _Restart
                    txs += self._process_block(block, h)
                    self.wallet.set_best_block(block.hash_bytes, h)
                    prev = block.hash_bytes
            done += len(heights)
            if self.progress is not None:
                self.progress(done, total)
            height = end + 1
        return done, txs

    def _process_block(self, block: Block, height: int) -> int:
        n = 0
        for tx in block.txs:
            if self._process_tx(tx, block.hash_bytes, height, block.header.time):
                n += 1
        return n

    def _process_tx(self, tx: Transaction, block_hash: bytes | None, height: int | None,
                    time_: int | None, *, inputs: bool = True, outputs: bool = True) -> bool:
        """Record what `tx` does to the wallet; True if it concerns the wallet."""
        txid = tx.txid_bytes
        relevant = False
        if inputs and not tx.is_coinbase():
            for txin in tx.inputs:
                key = (txin.prevout.txid_bytes, txin.prevout.index)
                if key in self._outpoints:
                    if not relevant:
                        self.wallet.add_transaction(tx, block_hash, height, time_)
                        relevant = True
                    self.wallet.mark_spent(key[0], key[1], txid)
        if outputs:
            coinbase = tx.is_coinbase()
            for vout, out in enumerate(tx.outputs):
                script = out.script_pubkey
                if script in self._watched:
                    if not relevant:
                        self.wallet.add_transaction(tx, block_hash, height, time_)
                        relevant = True
                    self.wallet.add_coin(txid, vout, out.value, script, height, coinbase)
                    self._outpoints.add((txid, vout))
                    for derived in self.wallet.mark_used(script):
                        self._watched.add(derived.script_pubkey)
        return relevant

    # --- mempool --------------------------------------------------------------------

    def _scan_mempool(self) -> bool:
        try:
            txids = self.rpc.call("getrawmempool")
        except RPCError as exc:
            if exc.code == -32601:   # method not found: a node without a mempool view
                return False
            raise
        in_pool = set(txids)
        known = {t.txid for t in self.wallet.transactions()}
        wanted = [t for t in txids if t not in known and t not in self._irrelevant]
        txs: list[Transaction] = []
        for start in range(0, len(wanted), 100):
            chunk = wanted[start:start + 100]
            for raw in rpc_batch(self.rpc, [("getrawtransaction", [t]) for t in chunk],
                                 errors=True):
                if isinstance(raw, RPCError) or not isinstance(raw, str):
                    continue   # left the mempool meanwhile (mined or evicted)
                txs.append(Transaction.from_hex(raw))
        with self.wallet.batch():
            # outputs first, then spends, so a child seen before its parent is caught
            seen = set()
            for tx in txs:
                if self._process_tx(tx, None, None, None, inputs=False):
                    seen.add(tx.txid)
            for tx in txs:
                if self._process_tx(tx, None, None, None, outputs=False):
                    seen.add(tx.txid)
            self._irrelevant.update(tx.txid for tx in txs if tx.txid not in seen)
            for txid in self.wallet.unconfirmed_txids():
                if txid[::-1].hex() not in in_pool:
                    self.wallet.remove_transaction(txid)
        return True
