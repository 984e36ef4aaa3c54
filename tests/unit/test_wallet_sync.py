"""coin.wallet.sync and the wallet side of coin.wallet.spend, against a small fake node.

`FakeNode` is an in-memory stand-in for coind's JSON-RPC (getblockcount, getblockhash,
getblock raw, getbestblockhash, getrawmempool, getrawtransaction, estimatesmartfee,
sendrawtransaction with script verification and BIP-0125 replacement, batches). It is
a fake of the NODE inside unit tests of the WALLET; the functional test uses real coind.
"""

import re
from decimal import Decimal

import pytest

from coin.crypto.address import p2wpkh_script
from coin.params import get_params
from coin.primitives import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut, merkle_root
from coin.rpc.client import RPCError
from coin.script import STANDARD_SCRIPT_VERIFY_FLAGS, verify_input
from coin.wallet import crypter, store
from coin.wallet.accounts import CHANGE, RECEIVE, ScriptType
from coin.wallet.history import get_balances, list_transactions, list_unspent
from coin.wallet.spend import (
    COIN,
    FeeRate,
    InsufficientFunds,
    SpendError,
    bump_fee,
    send,
)
from coin.wallet.sync import ChainFollower

REGTEST = get_params("regtest")
PASS = "pw"
WORDS = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
OTHER = p2wpkh_script(bytes(range(20)))   # a script outside the wallet
SUBSIDY = 50 * COIN


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch):
    monkeypatch.setattr(crypter, "MIN_SCRYPT_N", 2**10)
    monkeypatch.setattr(crypter, "DEFAULT_SCRYPT_N", 2**10)


class FakeNode:
    """A regtest chain in memory behind Core-shaped RPC answers (see the module doc)."""

    def __init__(self):
        self.blocks = [REGTEST.genesis]
        self.mempool: dict[str, Transaction] = {}
        self.feerate: Decimal | None = None
        self.incrementalrelayfee: Decimal | None = None   # None: no getmempoolinfo
        self.tag = 0
        self.calls: dict[str, int] = {}

    # transport, as RPCClient
    def call(self, method, *args):
        self.calls[method] = self.calls.get(method, 0) + 1
        fn = getattr(self, "rpc_" + method, None)
        if fn is None:
            raise RPCError(-32601, "Method not found")
        return fn(*args)

    def post(self, requests):
        out = []
        for r in requests:
            try:
                out.append({"result": self.call(r["method"], *r["params"]), "error": None, "id": r["id"]})
            except RPCError as e:
                out.append({"result": None, "error": e.to_obj(), "id": r["id"]})
        return out

    # chain
    @property
    def height(self):
        return len(self.blocks) - 1

    def mine(self, script=OTHER, txs=None, value=None):
        txs = list(self.mempool.values()) if txs is None else list(txs)
        self.tag += 1
        h = self.height + 1
        fees = sum(self._fee(t) for t in txs)
        cb = Transaction(2, [TxIn(OutPoint(bytes(32), 0xFFFFFFFF),
                                  bytes([3]) + h.to_bytes(3, "little") + self.tag.to_bytes(4, "little"))],
                         [TxOut(value if value is not None else SUBSIDY + fees, script)], 0)
        all_txs = [cb] + txs
        root, _ = merkle_root([t.txid_bytes for t in all_txs])
        prev = self.blocks[-1]
        header = BlockHeader(0x20000000, prev.hash_bytes, root, prev.header.time + 600,
                             REGTEST.pow_limit_bits, self.tag)
        block = Block(header, all_txs)
        self.blocks.append(block)
        for t in txs:
            self.mempool.pop(t.txid, None)
        return block

    def invalidate(self, height):
        """Disconnect blocks >= height; their transactions go back to the mempool."""
        gone = self.blocks[height:]
        self.blocks = self.blocks[:height]
        for b in gone:
            for t in b.txs[1:]:
                self.mempool[t.txid] = t

    def utxos(self):
        out = {}
        for h, b in enumerate(self.blocks):
            for t in b.txs:
                for i in t.inputs:
                    out.pop((i.prevout.txid_bytes, i.prevout.index), None)
                for n, o in enumerate(t.outputs):
                    out[(t.txid_bytes, n)] = (o, h, t.is_coinbase())
        for t in self.mempool.values():
            for i in t.inputs:
                out.pop((i.prevout.txid_bytes, i.prevout.index), None)
            for n, o in enumerate(t.outputs):
                out[(t.txid_bytes, n)] = (o, None, False)
        return out

    def _fee(self, tx):
        spent = self._spent_outputs(tx, include_mempool_spends=True)
        return sum(o.value for o in spent) - sum(o.value for o in tx.outputs)

    def _spent_outputs(self, tx, include_mempool_spends=False):
        coins = self.utxos()
        if include_mempool_spends:
            for t in list(self.mempool.values()) + [b for blk in self.blocks for b in blk.txs]:
                for n, o in enumerate(t.outputs):
                    coins.setdefault((t.txid_bytes, n), (o, None, False))
        return [coins[(i.prevout.txid_bytes, i.prevout.index)][0] for i in tx.inputs]

    # RPC methods
    def rpc_getblockcount(self):
        return self.height

    def rpc_getblockhash(self, h):
        if not 0 <= h <= self.height:
            raise RPCError(-8, "Block height out of range")
        return self.blocks[h].hash

    def rpc_getbestblockhash(self):
        return self.blocks[-1].hash

    def rpc_getblock(self, block_hash, verbosity=1):
        assert verbosity == 0
        for b in self.blocks:
            if b.hash == block_hash:
                return b.to_bytes().hex()
        raise RPCError(-5, "Block not found")

    def rpc_getrawmempool(self):
        return list(self.mempool)

    def rpc_getrawtransaction(self, txid, verbose=False):
        if txid in self.mempool:
            return self.mempool[txid].to_hex()
        raise RPCError(-5, "No such mempool transaction.")

    def rpc_estimatesmartfee(self, target, mode=None):
        if self.feerate is None:
            return {"errors": ["Insufficient data or no feerate found"], "blocks": 0}
        return {"feerate": self.feerate, "blocks": target}

    def rpc_getmempoolinfo(self):
        if self.incrementalrelayfee is None:
            raise RPCError(-32601, "Method not found")
        return {"size": len(self.mempool), "incrementalrelayfee": self.incrementalrelayfee}

    def rpc_sendrawtransaction(self, hexstr, maxfeerate=None):
        tx = Transaction.from_hex(hexstr)
        coins = self.utxos()
        conflicts = {t.txid for t in self.mempool.values() for i in t.inputs for j in tx.inputs
                     if i.prevout == j.prevout}
        for c in conflicts:   # what the replacement may spend
            old = self.mempool[c]
            for i in old.inputs:
                key = (i.prevout.txid_bytes, i.prevout.index)
                for b in self.blocks:
                    for t in b.txs:
                        if t.txid_bytes == key[0]:
                            coins[key] = (t.outputs[key[1]], 0, t.is_coinbase())
        spent = []
        for i in tx.inputs:
            key = (i.prevout.txid_bytes, i.prevout.index)
            if key not in coins:
                raise RPCError(-25, "bad-txns-inputs-missingorspent")
            out, h, cb = coins[key]
            if cb and self.height + 1 - h < 100:
                raise RPCError(-26, "bad-txns-premature-spend-of-coinbase")
            spent.append(out)
        for n in range(len(tx.inputs)):
            verify_input(tx, n, spent, STANDARD_SCRIPT_VERIFY_FLAGS)
        fee = sum(o.value for o in spent) - sum(o.value for o in tx.outputs)
        if fee < tx.vsize:
            raise RPCError(-26, "min relay fee not met")
        for c in conflicts:
            old = self.mempool[c]
            if not any(i.sequence < 0xFFFFFFFE for i in old.inputs):
                raise RPCError(-26, "txn-mempool-conflict")
            old_fee = self._fee(old)
            if fee < old_fee + tx.vsize:
                raise RPCError(-26, "insufficient fee")
            del self.mempool[c]
        self.mempool[tx.txid] = tx
        return tx.txid


def _wallet(tmp_path, name="w", words=WORDS, birthday=0):
    return store.create(tmp_path / f"{name}.sqlite", PASS, "regtest", words, birthday_height=birthday)


def _addr(w, chain=RECEIVE, index=0, st=ScriptType.P2WPKH):
    return w.account(st, 0).derive(chain, index)


# --- chain following ----------------------------------------------------------------


def test_sync_records_coinbases_and_tip(tmp_path):
    node = FakeNode()
    w = _wallet(tmp_path)
    mine = _addr(w).script_pubkey
    for _ in range(3):
        node.mine(mine, txs=[])
    node.mine(OTHER, txs=[])
    result = ChainFollower(w, node, batch_size=2).sync()
    assert (result.tip_height, result.tip_hash, result.blocks) == (4, node.blocks[-1].hash, 5)
    assert w.best_block() == (node.blocks[-1].hash_bytes, 4)
    coins = w.coins()
    assert len(coins) == 3 and all(c.coinbase and c.value == SUBSIDY for c in coins)
    assert {c.height for c in coins} == {1, 2, 3}
    # nothing new: a second sync reads no block
    again = ChainFollower(w, node).sync()
    assert again.blocks == 0 and again.rolled_back == 0


def test_sync_gap_limit_discovery_on_restore(tmp_path):
    node = FakeNode()
    w = _wallet(tmp_path)
    # used indices 0, 15, 33 (each within 20 of the previous), 60 beyond the gap
    for i in (0, 15, 33, 60):
        node.mine(_addr(w, index=i).script_pubkey, txs=[], value=COIN + i)
    node.mine(_addr(w, chain=CHANGE, index=19).script_pubkey, txs=[], value=7 * COIN)
    w2 = _wallet(tmp_path, "restored")
    ChainFollower(w2, node).sync()
    found = sorted(c.value for c in w2.coins())
    assert found == [COIN, COIN + 15, COIN + 33, 7 * COIN]
    used = {(a.chain, a.index) for a in w2.addresses() if a.used}
    assert used == {(RECEIVE, 0), (RECEIVE, 15), (RECEIVE, 33), (CHANGE, 19)}
    # the window now reaches 33 + 20: index 53 is watched, 60 is not
    assert w2.is_mine(_addr(w, index=53).script_pubkey)
    assert not w2.is_mine(_addr(w, index=60).script_pubkey)


def test_sync_birthday_skips_earlier_blocks(tmp_path):
    node = FakeNode()
    w = _wallet(tmp_path)
    script = _addr(w).script_pubkey
    node.mine(script, txs=[])
    node.mine(OTHER, txs=[])
    node.mine(script, txs=[])
    w2 = _wallet(tmp_path, "late", birthday=3)
    result = ChainFollower(w2, node).sync()
    assert result.blocks == 1
    assert [c.height for c in w2.coins()] == [3]


def test_reorg_rolls_back_coinbase(tmp_path):
    node = FakeNode()
    w = _wallet(tmp_path)
    script = _addr(w).script_pubkey
    node.mine(OTHER, txs=[])
    node.mine(script, txs=[])
    node.mine(script, txs=[])
    ChainFollower(w, node).sync()
    assert len(w.coins()) == 2
    node.invalidate(2)          # disconnect heights 2 and 3
    for _ in range(3):
        node.mine(OTHER, txs=[])
    result = ChainFollower(w, node).sync()
    assert result.rolled_back == 2 and result.tip_height == 4
    assert w.coins() == [] and w.transactions() == []
    for h in range(5):
        assert w.block_hash(h) == node.blocks[h].hash_bytes


def test_reorg_to_shorter_chain_and_mempool_return(tmp_path):
    node = FakeNode()
    w = _wallet(tmp_path)
    w_other = _wallet(tmp_path, "other", words="legal winner thank year wave sausage worth "
                      "useful legal winner thank yellow")
    w_other.unlock(PASS)
    # the other wallet mines, matures and pays us: a payment from outside our wallet
    for _ in range(101):
        node.mine(_addr(w_other).script_pubkey, txs=[])
    ChainFollower(w_other, node).sync()
    pay_to = w.get_new_address().address
    res = send(w_other, node, [(pay_to, 3 * COIN)], FeeRate.from_sat_per_vb(2))
    ChainFollower(w, node).sync()
    b = get_balances(w)
    assert (b.confirmed, b.unconfirmed, b.trusted_pending) == (0, 3 * COIN, 0)
    node.mine(OTHER)
    ChainFollower(w, node).sync()
    assert get_balances(w).confirmed == 3 * COIN
    assert w.get_transaction(bytes.fromhex(res.txid)[::-1]).height == 102
    # a reorg back below the payment's block: it returns to the mempool (unconfirmed)
    node.invalidate(102)
    result = ChainFollower(w, node).sync()
    assert result.rolled_back == 1 and result.mempool
    b = get_balances(w)
    assert (b.confirmed, b.unconfirmed) == (0, 3 * COIN)
    # and if the mempool loses it too (conflict), the wallet forgets it
    node.mempool.clear()
    ChainFollower(w, node).sync()
    assert get_balances(w).unconfirmed == 0 and w.coins() == []


# --- spending against the node ------------------------------------------------------


def _funded(tmp_path, n=3, st=ScriptType.P2WPKH):
    node = FakeNode()
    w = _wallet(tmp_path)
    w.unlock(PASS)
    for i in range(n):
        node.mine(_addr(w, index=i, st=st).script_pubkey, txs=[])
    for _ in range(100):
        node.mine(OTHER, txs=[])
    ChainFollower(w, node).sync()
    return node, w


def test_maturity_follows_core(tmp_path):
    node = FakeNode()
    w = _wallet(tmp_path)
    node.mine(_addr(w).script_pubkey, txs=[])
    for _ in range(99):
        node.mine(OTHER, txs=[])
    ChainFollower(w, node).sync()          # depth 100: Core's wallet still calls it immature
    b = get_balances(w)
    assert (b.balance, b.immature) == (0, SUBSIDY)
    w.unlock(PASS)
    with pytest.raises(InsufficientFunds) as exc:
        send(w, node, [(OTHER, COIN)], FeeRate(1000))
    assert exc.value.available == 0 and exc.value.immature == SUBSIDY
    assert "Insufficient funds" in str(exc.value) and "immature" in str(exc.value)
    node.mine(OTHER, txs=[])
    ChainFollower(w, node).sync()          # depth 101: mature
    assert get_balances(w).balance == SUBSIDY


@pytest.mark.parametrize("st", list(ScriptType), ids=lambda s: s.value)
def test_send_change_fee_and_confirmation(tmp_path, st):
    node, w = _funded(tmp_path, 2, st)
    res = send(w, node, [(OTHER, 30 * COIN)], FeeRate.from_sat_per_vb(5))
    tx = node.mempool[res.txid]
    assert tx == res.tx
    assert all(i.sequence == 0xFFFFFFFD for i in tx.inputs)
    assert tx.lock_time == node.height
    assert res.fee >= FeeRate(5000).fee(tx.vsize) and res.fee <= FeeRate(5000).fee(res.vsize)
    assert res.vsize >= tx.vsize
    change = [o for o in tx.outputs if o.script_pubkey != OTHER]
    assert len(change) == 1
    rec = w.lookup_script(change[0].script_pubkey)
    assert rec.chain == CHANGE and rec.script_type is ScriptType.P2WPKH
    b = get_balances(w)
    assert b.confirmed == SUBSIDY * 2 - 50 * COIN  # one coin spent (BnB or largest-first)
    assert b.trusted_pending == change[0].value
    assert b.balance == 2 * SUBSIDY - 30 * COIN - res.fee
    node.mine(OTHER)
    ChainFollower(w, node).sync()
    b = get_balances(w)
    assert (b.confirmed, b.unconfirmed) == (2 * SUBSIDY - 30 * COIN - res.fee, 0)
    entries = list_transactions(w)
    sent = [e for e in entries if e["category"] == "send"]
    assert sent == [dict(sent[0], amount=-30 * COIN, fee=-res.fee, confirmations=1)]
    # the next change address is a fresh one
    assert w.peek_address(ScriptType.P2WPKH, 0, CHANGE).script_pubkey != change[0].script_pubkey


def test_send_many_and_node_fee_estimate(tmp_path):
    node, w = _funded(tmp_path, 3)
    node.feerate = Decimal("0.00012")       # BTC/kvB -> 12 sat/vB
    dests = [(p2wpkh_script(bytes([i]) * 20), (i + 1) * COIN) for i in range(3)]
    res = send(w, node, dests, None)
    assert res.feerate == FeeRate(12000)
    tx = res.tx
    for script, value in dests:
        assert TxOut(value, script) in tx.outputs
    node.feerate = None                       # no estimate: the 1 sat/vB floor
    res2 = send(w, node, [(OTHER, COIN)], None)
    assert res2.feerate == FeeRate(1000)
    with pytest.raises(SpendError, match="duplicated"):
        send(w, node, [(OTHER, COIN), (OTHER, COIN)], FeeRate(1000))
    with pytest.raises(SpendError, match="minimum fee rate"):
        send(w, node, [(OTHER, COIN)], FeeRate(500))
    with pytest.raises(SpendError, match="dust"):
        send(w, node, [(OTHER, 293)], FeeRate(1000))


def test_insufficient_funds_reports_amounts(tmp_path):
    node, w = _funded(tmp_path, 2)
    with pytest.raises(InsufficientFunds) as exc:
        send(w, node, [(OTHER, 100 * COIN)], FeeRate(1000))
    assert exc.value.available == 2 * SUBSIDY and exc.value.needed > 100 * COIN
    assert "100.0" in str(exc.value) and "spendable 100.00000000 BTC" in str(exc.value)
    assert node.mempool == {}


def test_bumpfee_replaces(tmp_path):
    node, w = _funded(tmp_path, 1)
    res = send(w, node, [(OTHER, 10 * COIN)], FeeRate.from_sat_per_vb(2))
    bumped = bump_fee(w, node, res.txid, FeeRate.from_sat_per_vb(10))
    assert res.txid not in node.mempool and bumped.txid in node.mempool
    old, new = res.tx, bumped.tx
    assert {i.prevout for i in new.inputs} == {i.prevout for i in old.inputs}
    assert TxOut(10 * COIN, OTHER) in new.outputs
    assert bumped.fee >= bumped.origfee + new.vsize
    assert FeeRate.from_fee(bumped.fee, new.vsize) > FeeRate.from_fee(res.fee, old.vsize)
    change_old = [o for o in old.outputs if o.script_pubkey != OTHER][0]
    change_new = [o for o in new.outputs if o.script_pubkey != OTHER][0]
    assert change_new.script_pubkey == change_old.script_pubkey
    assert change_new.value == change_old.value - (bumped.fee - res.fee)
    assert w.get_transaction(old.txid_bytes) is None
    assert get_balances(w).balance == SUBSIDY - 10 * COIN - bumped.fee
    # a default bump: at least old + 5 sat/vB
    again = bump_fee(w, node, bumped.txid)
    assert again.feerate >= FeeRate.from_fee(bumped.fee, new.vsize) + FeeRate(5000)
    with pytest.raises(SpendError, match="must be at least"):
        bump_fee(w, node, again.txid, FeeRate.from_sat_per_vb(1))
    node.mine(OTHER)
    ChainFollower(w, node).sync()
    with pytest.raises(SpendError, match="mined"):
        bump_fee(w, node, again.txid)
    with pytest.raises(SpendError, match="non-wallet"):
        bump_fee(w, node, "00" * 32)
    assert [e["txid"] for e in list_transactions(w) if e["category"] == "send"] == [again.txid]


_INSUFFICIENT = re.compile(r"^Insufficient total fee (\S+), must be at least (\S+) "
                           r"\(oldFee (\S+) \+ incrementalFee (\S+)\)$")


def _sat(btc: str) -> int:
    return int(Decimal(btc) * COIN)


@pytest.mark.parametrize("node_incremental_sat_vb", [None, 1, 20],
                         ids=["no-getmempoolinfo", "node-1sat", "node-20sat"])
def test_bumpfee_explicit_rate_needs_old_plus_incremental(tmp_path, node_incremental_sat_vb):
    """Core's CheckFeeRate: an explicit fee rate must pay at least oldFee + max(node's
    incrementalrelayfee, WALLET_INCREMENTAL_RELAY_FEE = 5 sat/vB) over the new size,
    else RPC_INVALID_PARAMETER "Insufficient total fee X, must be at least Y (oldFee Z +
    incrementalFee W)"; the default bump rises by old + 1 sat/kvB + that increment."""
    node, w = _funded(tmp_path, 1)
    if node_incremental_sat_vb is not None:
        node.incrementalrelayfee = Decimal(node_incremental_sat_vb) * 1000 / COIN
    inc = max(node_incremental_sat_vb or 1, 5)
    res = send(w, node, [(OTHER, 10 * COIN)], FeeRate.from_sat_per_vb(2))
    old_rate = FeeRate.from_fee(res.fee, res.tx.vsize)
    # old + 1 sat/vB (the BIP-0125 minimum) is not enough for the wallet, nor old + inc - 1
    for short in sorted({1, inc - 1}):
        too_low = FeeRate(old_rate.sat_per_kvb + short * 1000)
        with pytest.raises(SpendError) as exc:
            bump_fee(w, node, res.txid, too_low)
        m = _INSUFFICIENT.match(str(exc.value))
        assert m, str(exc.value)
        new_total, min_total, old_fee, inc_fee = (_sat(g) for g in m.groups())
        assert old_fee == res.fee and min_total == old_fee + inc_fee
        # the size is the replacement's (same inputs and outputs, 72-byte signatures)
        size = inc_fee * 1000 // (inc * 1000)
        assert res.tx.vsize <= size <= res.tx.vsize + len(res.tx.inputs)
        assert inc_fee == FeeRate(inc * 1000).fee(size) and new_total == too_low.fee(size)
        assert new_total < min_total
    assert list(node.mempool) == [res.txid]
    # old + inc + a little pays
    ok = bump_fee(w, node, res.txid, FeeRate(old_rate.sat_per_kvb + inc * 1000 + 100))
    assert ok.fee >= res.fee + inc * ok.tx.vsize
    assert list(node.mempool) == [ok.txid]
    # the default bump: old rate + 1 sat/kvB + the increment
    prev_rate = FeeRate.from_fee(ok.fee, ok.tx.vsize)
    again = bump_fee(w, node, ok.txid)
    assert again.feerate == FeeRate(prev_rate.sat_per_kvb + 1 + inc * 1000)
    assert list(node.mempool) == [again.txid]


def test_unspent_listing_and_locked_wallet(tmp_path):
    node, w = _funded(tmp_path, 2)
    rows = list_unspent(w)
    assert len(rows) == 2 and all(r["spendable"] and r["confirmations"] >= 101 for r in rows)
    w.lock()
    with pytest.raises(store.WalletLocked):
        send(w, node, [(OTHER, COIN)], FeeRate(1000))
    assert node.mempool == {}
