"""A block builder for tests: regtest chains, forks and invalid blocks.

    builder = BlockBuilder()                     # regtest, a fixed private key
    chain = MemoryChain(builder.params)          # optional: validate + connect in memory
    blocks = builder.build_chain(101)            # 101 blocks paying the builder's P2WPKH
    for b in blocks:
        chain.process_block(b)
    tx = builder.spend([builder.coinbase_utxo(1)], n_outputs=2, fee=1000)
    block = builder.next_block([tx])             # fees added to the coinbase, mined
    bad = builder.next_block([tx], tweak=lambda b: ..., set_tip=False)

Blocks are made with coin.mining.template (coinbase, witness commitment, merkle root)
and mined by grinding the nonce in Python (about two tries at regtest difficulty).
`tweak(block) -> block` runs before mining (then, with `refresh=True`, the witness
commitment and merkle root are recomputed), `tweak_after(block) -> block` after it (the
result is not re-mined: use it to break proof of work or the merkle root).

Forks: `next_block(prev=entry)` builds on any entry the builder made; `set_tip`
defaults to True only when building on the current tip.

`IndexEntry` is a tiny in-memory stand-in for the chain's block index entry (height,
header, hash_bytes, prev, get_ancestor, median_time_past). `MemoryChain` validates and
connects blocks with coin.consensus against a `MemoryCoinsView` (no forks: it follows
one chain; `disconnect_tip()` undoes the last block). This module does not use
coin.chain: the chain's own tests drive the builder against real LevelDB.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from coin.consensus.block_check import (
    check_block,
    contextual_check_block,
    contextual_check_block_header,
)
from coin.consensus.coins import MemoryCoinsView
from coin.consensus.connect import connect_block, disconnect_block
from coin.consensus.pow import check_proof_of_work, get_next_work_required
from coin.crypto import ecc
from coin.crypto.address import p2pkh_script, p2wpkh_script
from coin.crypto.hashes import hash160, sha256
from coin.mining.template import add_witness_commitment, create_block, with_merkle_root
from coin.params import get_params
from coin.primitives import Block, OutPoint, Transaction, TxIn, TxOut
from coin.script.interpreter import push_data as push
from coin.script.sighash import SIGHASH_ALL, legacy_sighash, segwit_v0_sighash

__all__ = ["Utxo", "IndexEntry", "BlockBuilder", "MemoryChain", "OP_TRUE_SCRIPT", "push"]

OP_TRUE_SCRIPT = b"\x51"


class Utxo(NamedTuple):
    """An output the builder can spend: where it is and what it holds."""

    outpoint: OutPoint
    txout: TxOut


class IndexEntry:
    """In-memory stand-in for a block index entry (the consensus contract's "index entry")."""

    __slots__ = ("height", "header", "hash_bytes", "prev")

    def __init__(self, header, prev: "IndexEntry | None", height: int | None = None):
        self.header = header
        self.prev = prev
        self.height = height if height is not None else (0 if prev is None else prev.height + 1)
        self.hash_bytes = header.hash_bytes

    def get_ancestor(self, height: int) -> "IndexEntry | None":
        if height > self.height or height < 0:
            return None
        entry = self
        while entry is not None and entry.height > height:
            entry = entry.prev
        return entry

    def median_time_past(self) -> int:
        times = []
        entry = self
        while entry is not None and len(times) < 11:
            times.append(entry.header.time)
            entry = entry.prev
        times.sort()
        return times[len(times) // 2]

    def __repr__(self) -> str:
        return f"IndexEntry(height={self.height}, hash={self.header.hash})"


class BlockBuilder:
    """Makes valid (and, on request, invalid) blocks and transactions for tests."""

    def __init__(self, params=None, *, seed: bytes = b"coin blockbuilder", time: int | None = None):
        """`seed` derives the private key; `time` is the earliest block time to use
        (e.g. the current time, so that a node does not take the chain for stale)."""
        self.params = params if params is not None else get_params("regtest")
        self.privkey = sha256(seed)
        self.pubkey = ecc.pubkey_from_privkey(self.privkey, compressed=True)
        self.pubkey_hash = hash160(self.pubkey)
        self.p2wpkh = p2wpkh_script(self.pubkey_hash)
        self.p2pkh = p2pkh_script(self.pubkey_hash)
        genesis = self.params.genesis
        self.genesis = IndexEntry(genesis.header, None)
        self.tip = self.genesis
        self.entries: dict[bytes, IndexEntry] = {self.genesis.hash_bytes: self.genesis}
        self.blocks: dict[bytes, Block] = {self.genesis.hash_bytes: genesis}
        self.outputs: dict[OutPoint, TxOut] = {}
        self.time = time if time is not None else genesis.header.time
        self._extra = 0

    # -- transactions ------------------------------------------------------------------

    def utxos_of(self, tx: Transaction) -> list[Utxo]:
        """Every output of `tx` as a Utxo."""
        return [Utxo(OutPoint(tx.txid_bytes, i), out) for i, out in enumerate(tx.outputs)]

    def coinbase_utxo(self, height: int, tip: IndexEntry | None = None) -> Utxo:
        """Output 0 of the coinbase of the block at `height` on the chain ending at `tip`."""
        entry = (tip or self.tip).get_ancestor(height)
        if entry is None:
            raise ValueError(f"no block at height {height}")
        return self.utxos_of(self.blocks[entry.hash_bytes].txs[0])[0]

    def sign_input(self, tx: Transaction, index: int, spent: TxOut,
                   hash_type: int = SIGHASH_ALL) -> Transaction:
        """`tx` with input `index` signed for `spent` (P2WPKH, P2PKH or OP_TRUE of ours)."""
        script = spent.script_pubkey
        txin = tx.inputs[index]
        if script == self.p2wpkh:
            digest = segwit_v0_sighash(tx, index, self.p2pkh, spent.value, hash_type)
            sig = ecc.sign(self.privkey, digest) + bytes((hash_type,))
            txin = txin._replace(script_sig=b"", witness=(sig, self.pubkey))
        elif script == self.p2pkh:
            digest = legacy_sighash(tx, index, script, hash_type)
            sig = ecc.sign(self.privkey, digest) + bytes((hash_type,))
            txin = txin._replace(script_sig=push(sig) + push(self.pubkey), witness=())
        elif script == OP_TRUE_SCRIPT:
            txin = txin._replace(script_sig=b"", witness=())
        else:
            raise ValueError(f"cannot sign for script {script.hex()}")
        inputs = list(tx.inputs)
        inputs[index] = txin
        return tx.replace(inputs=inputs)

    def sign(self, tx: Transaction, spent: Sequence[TxOut]) -> Transaction:
        """Sign every input; `spent[i]` is the output input i spends.

        Unsigned fields must be final first: signatures commit to the whole transaction
        (SIGHASH_ALL), so each input is signed over the others' final outpoints and
        sequences (scriptSigs are not committed to by legacy or BIP-0143 digests).
        """
        for i, out in enumerate(spent):
            tx = self.sign_input(tx, i, out)
        return tx

    def spend(self, utxos: Iterable[Utxo], *, outputs: Sequence[TxOut] | None = None,
              n_outputs: int = 1, fee: int = 1000, script_pubkey: bytes | None = None,
              version: int = 2, lock_time: int = 0, sequence: int = 0xFFFFFFFE,
              sequences: Sequence[int] | None = None, sign: bool = True) -> Transaction:
        """A transaction spending `utxos`, signed.

        Either explicit `outputs`, or `n_outputs` equal outputs to `script_pubkey`
        (default the builder's P2WPKH) sharing the input value minus `fee`.
        """
        utxos = list(utxos)
        if outputs is None:
            total = sum(u.txout.value for u in utxos) - fee
            if total < 0:
                raise ValueError("fee exceeds the input value")
            spk = self.p2wpkh if script_pubkey is None else script_pubkey
            share, rest = divmod(total, n_outputs)
            outputs = [TxOut(share + (rest if i == 0 else 0), spk) for i in range(n_outputs)]
        seqs = list(sequences) if sequences is not None else [sequence] * len(utxos)
        inputs = [TxIn(u.outpoint, b"", s) for u, s in zip(utxos, seqs, strict=True)]
        tx = Transaction(version, inputs, outputs, lock_time)
        for u in utxos:
            self.outputs[u.outpoint] = u.txout
        if sign:
            tx = self.sign(tx, [u.txout for u in utxos])
        self._remember(tx)
        return tx

    def _remember(self, tx: Transaction) -> None:
        for utxo in self.utxos_of(tx):
            self.outputs[utxo.outpoint] = utxo.txout

    def fees_of(self, txs: Iterable[Transaction]) -> int:
        """Sum of fees of `txs` whose inputs the builder knows (others count as 0)."""
        total = 0
        for tx in txs:
            ins = [self.outputs.get(txin.prevout) for txin in tx.inputs]
            if all(o is not None for o in ins):
                total += sum(o.value for o in ins) - sum(o.value for o in tx.outputs)
        return total

    # -- blocks ------------------------------------------------------------------------

    def mine(self, block: Block, max_tries: int = 1 << 20) -> Block:
        """`block` with a nonce that meets its bits (header fields otherwise unchanged)."""
        header = block.header
        for nonce in range(max_tries):
            candidate = header.replace(nonce=nonce)
            if check_proof_of_work(candidate.hash_bytes, candidate.bits, self.params):
                return Block(candidate, block.txs)
        raise RuntimeError("no nonce found")

    def finalize(self, block: Block, height: int) -> Block:
        """Witness commitment (when segwit is active at `height`) and merkle root, refreshed."""
        if height >= self.params.segwit_height:
            return add_witness_commitment(block)
        return with_merkle_root(block)

    def next_block(self, txs: Sequence[Transaction] = (), *, prev: IndexEntry | None = None,
                   time: int | None = None, bits: int | None = None, version: int = 0x20000000,
                   fees: int | None = None, coinbase_script_pubkey: bytes | None = None,
                   extra_nonce: bytes | None = None,
                   tweak: Callable[[Block], Block] | None = None, refresh: bool = True,
                   tweak_after: Callable[[Block], Block] | None = None, mine: bool = True,
                   set_tip: bool | None = None) -> Block:
        """Build, mine and record a block on `prev` (default: the tip) holding `txs`.

        Defaults: time = max(parent time + 1, parent MTP + 1, the builder's `time`
        floor, which defaults to the genesis time), bits = what the parent requires, fees = what the builder knows
        of `txs`, coinbase to the builder's P2WPKH, a fresh extra nonce (so no two
        coinbases collide, BIP-0030). See the module docstring for the tweaks.
        """
        prev = prev if prev is not None else self.tip
        if set_tip is None:
            set_tip = prev is self.tip
        height = prev.height + 1
        if time is None:
            time = max(prev.header.time + 1, prev.median_time_past() + 1, self.time)
        if bits is None:
            bits = get_next_work_required(prev, time, self.params)
        for tx in txs:
            self._remember(tx)
        if fees is None:
            fees = self.fees_of(txs)
        if extra_nonce is None:
            self._extra += 1
            extra_nonce = self._extra.to_bytes(4, "little")
        block = create_block(prev.hash_bytes, height, list(txs), time, bits, self.params,
                             self.p2wpkh if coinbase_script_pubkey is None else coinbase_script_pubkey,
                             fees, version, extra_nonce=extra_nonce)
        if tweak is not None:
            block = tweak(block)
            if refresh:
                block = self.finalize(block, height)
        if mine:
            block = self.mine(block)
        if tweak_after is not None:
            block = tweak_after(block)
        for tx in block.txs[:1]:
            self._remember(tx)
        entry = IndexEntry(block.header, prev, height)
        self.entries[block.hash_bytes] = entry
        self.blocks[block.hash_bytes] = block
        if set_tip:
            self.tip = entry
        return block

    def build_chain(self, n: int, **kwargs) -> list[Block]:
        """`n` empty blocks on the tip (each becoming the tip)."""
        return [self.next_block(**kwargs) for _ in range(n)]

    def entry_of(self, block: Block) -> IndexEntry:
        return self.entries[block.hash_bytes]


class MemoryChain:
    """One chain validated with coin.consensus and connected to a MemoryCoinsView."""

    def __init__(self, params=None, *, now: int | None = None):
        self.params = params if params is not None else get_params("regtest")
        genesis = self.params.genesis
        self.tip = IndexEntry(genesis.header, None)
        self.view = MemoryCoinsView()
        self.blocks: list[Block] = [genesis]
        self.undos: list = [None]
        self.now = now

    @property
    def height(self) -> int:
        return self.tip.height

    def copy(self) -> "MemoryChain":
        """An independent copy (same tip, copied coins) to try blocks on."""
        other = MemoryChain(self.params, now=self.now)
        other.tip = self.tip
        other.view = self.view.copy()
        other.blocks = list(self.blocks)
        other.undos = list(self.undos)
        return other

    def process_block(self, block: Block, *, executor=None, sigcache=None,
                      check_scripts: bool = True) -> None:
        """Validate `block` on the tip and connect it; raises Rejection, state unchanged."""
        if block.header.prev_hash_bytes != self.tip.hash_bytes:
            raise ValueError("block does not build on the tip")
        now = self.now if self.now is not None else block.header.time
        check_block(block, self.params)
        contextual_check_block_header(block.header, self.tip, self.params, now)
        contextual_check_block(block, self.tip, self.params)
        entry = IndexEntry(block.header, self.tip)
        child = self.view.copy()
        undo = connect_block(block, entry, child, self.params, executor=executor,
                             sigcache=sigcache, check_scripts=check_scripts)
        self.view = child
        self.tip = entry
        self.blocks.append(block)
        self.undos.append(undo)

    def disconnect_tip(self) -> bool:
        """Undo the tip block; returns disconnect_block's cleanliness."""
        block = self.blocks.pop()
        undo = self.undos.pop()
        clean = disconnect_block(block, undo, self.view, height=self.tip.height)
        self.tip = self.tip.prev
        return clean
