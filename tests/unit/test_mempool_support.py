"""Shared set-up for the mempool tests (no tests here).

`Env` is a regtest chain built with tests/blockbuilder.py and validated in memory by
coin.consensus (MemoryChain), a Mempool over it through a two-attribute chain view, and
a settable clock. Transactions are real: signed with coin.crypto.ecc over BIP-0143 /
legacy sighashes by the block builder.
"""

from blockbuilder import BlockBuilder, MemoryChain, Utxo

from coin.mempool.pool import Mempool
from coin.primitives import OutPoint, Transaction, TxIn, TxOut

__all__ = ["Clock", "ChainView", "Env"]


class Clock:
    """A settable clock (seconds)."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


class ChainView:
    """The two attributes the mempool needs, over a MemoryChain."""

    def __init__(self, chain: MemoryChain):
        self._chain = chain

    @property
    def tip(self):
        return self._chain.tip

    @property
    def coins_tip(self):
        return self._chain.view


class Env:
    """A chain with mature coinbases, a pool over it, and helpers to fund and mine."""

    def __init__(self, n_blocks: int = 110, **pool_kwargs):
        self.builder = BlockBuilder()
        self.params = self.builder.params
        self.chain = MemoryChain(self.params)
        for block in self.builder.build_chain(n_blocks):
            self.chain.process_block(block)
        self.clock = Clock(self.chain.tip.header.time + 600)
        pool_kwargs.setdefault("clock", self.clock)
        self.pool = Mempool(self.params, ChainView(self.chain), **pool_kwargs)
        self._next_coinbase = 1

    def coinbase(self) -> Utxo:
        """A fresh mature coinbase output (50 BTC)."""
        utxo = self.builder.coinbase_utxo(self._next_coinbase)
        self._next_coinbase += 1
        return utxo

    def fund(self, n: int, value: int = 1_000_000, script_pubkey: bytes | None = None) -> list[Utxo]:
        """`n` confirmed outputs of `value` (one funding tx mined in a block)."""
        cb = self.coinbase()
        spk = self.builder.p2wpkh if script_pubkey is None else script_pubkey
        outs = [TxOut(value, spk) for _ in range(n)]
        change = cb.txout.value - n * value - 10_000
        outs.append(TxOut(change, self.builder.p2wpkh))
        tx = self.builder.spend([cb], outputs=outs)
        self.mine([tx])
        return self.builder.utxos_of(tx)[:n]

    def mine(self, txs=(), notify: bool = True, **kwargs):
        """Build, validate and connect a block on the tip; tell the pool."""
        block = self.builder.next_block(list(txs), **kwargs)
        self.chain.process_block(block)
        if notify:
            self.pool.block_connected(block, self.chain.tip)
        return block

    def disconnect(self):
        """Disconnect the tip block and tell the pool; returns the block."""
        block = self.chain.blocks[-1]
        entry = self.chain.tip
        self.chain.disconnect_tip()
        self.builder.tip = self.builder.entries[self.chain.tip.hash_bytes]
        self.pool.block_disconnected(block, entry)
        return block

    def spend(self, utxos, **kwargs) -> Transaction:
        return self.builder.spend(utxos, **kwargs)

    def utxos(self, tx) -> list[Utxo]:
        return self.builder.utxos_of(tx)

    def unsigned(self, utxos, outputs, version: int = 2, lock_time: int = 0,
                 sequence: int = 0xFFFFFFFE) -> Transaction:
        inputs = [TxIn(u.outpoint, b"", sequence) for u in utxos]
        return Transaction(version, inputs, outputs, lock_time)

    def outpoint(self, tx, i: int = 0) -> OutPoint:
        return OutPoint(tx.txid_bytes, i)
