"""Orphans (coin.mempool.orphans) and mempool.dat persistence (coin.mempool.persist)."""

import random

from test_mempool_support import ChainView, Clock, Env

from coin.mempool.orphans import ORPHAN_TX_EXPIRE_TIME, OrphanPool
from coin.mempool.persist import (
    MEMPOOL_DUMP_VERSION,
    MEMPOOL_DUMP_VERSION_NO_XOR_KEY,
    dump_bytes,
    load_mempool,
    mempool_path,
    save_mempool,
)
from coin.mempool.pool import Mempool
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.serialize import ByteReader


def _orphan(i: int, parent: bytes = b"\x01" * 32, n_in: int = 1) -> Transaction:
    inputs = [TxIn(OutPoint(parent, i * 10 + k)) for k in range(n_in)]
    return Transaction(2, inputs, [TxOut(1000 + i, b"\x51")])


# -- orphans -----------------------------------------------------------------------------------


def test_orphans_bounded_with_random_eviction():
    clock = Clock(1000.0)
    orphans = OrphanPool(max_orphans=100, clock=clock, rng=random.Random(7))
    txs = [_orphan(i) for i in range(150)]
    for tx in txs:
        assert orphans.add(tx, peer=1)
    assert len(orphans) == 100
    kept = [tx for tx in txs if orphans.contains(tx.wtxid_bytes)]
    assert len(kept) == 100 and kept != txs[:100]       # random victims, not oldest-first
    assert not orphans.add(kept[0], peer=2)              # already there


def test_orphans_too_heavy_refused():
    orphans = OrphanPool()
    big = Transaction(2, [TxIn(_orphan(0).inputs[0].prevout)], [TxOut(1, b"\x51" * 10_000)] * 11)
    assert big.weight > 400_000
    assert not orphans.add(big)


def test_orphans_expire_after_twenty_minutes():
    clock = Clock(1000.0)
    orphans = OrphanPool(clock=clock)
    a = _orphan(1)
    orphans.add(a)
    clock.now += ORPHAN_TX_EXPIRE_TIME - 1
    orphans.add(_orphan(2))
    assert orphans.contains(a.txid_bytes)
    clock.now += 2
    assert orphans.limit() == 1
    assert not orphans.contains(a.txid_bytes) and len(orphans) == 1


def test_orphans_resolved_when_the_parent_arrives():
    env = Env()
    (u,) = env.fund(1)
    parent = env.spend([u], n_outputs=2)
    child1 = env.spend([env.utxos(parent)[0]])
    child2 = env.spend([env.utxos(parent)[1]])
    orphans = OrphanPool()
    for child, peer in ((child1, "p1"), (child2, "p2")):
        try:
            env.pool.accept(child)
            raise AssertionError("a child without its parent was accepted")
        except Exception as r:  # noqa: BLE001 - asserting the reject below
            assert r.reason == "bad-txns-inputs-missingorspent"
        orphans.add(child, peer)
    env.pool.accept(parent)
    assert {t.txid for t in orphans.children_of(parent.txid_bytes)} == {child1.txid, child2.txid}
    orphans.add_children_to_work_set(parent)
    for peer in ("p1", "p2"):
        tx = orphans.tx_to_reconsider(peer)
        env.pool.accept(tx)
        orphans.remove(tx.wtxid_bytes)
        assert orphans.tx_to_reconsider(peer) is None
    assert len(orphans) == 0 and len(env.pool) == 3
    env.pool.check()


def test_orphans_removed_by_peer_and_by_block():
    orphans = OrphanPool()
    a, b, c = _orphan(1), _orphan(2), _orphan(3)
    orphans.add(a, "p1")
    orphans.add(b, "p1")
    orphans.add(c, "p2")
    assert orphans.remove_for_peer("p1") == 2
    assert len(orphans) == 1 and orphans.peer_of(c.txid_bytes) == "p2"

    class _Block:
        txs = [Transaction(2, [TxIn(c.inputs[0].prevout)], [TxOut(5, b"\x51")])]

    assert orphans.remove_for_block(_Block) == 1      # a conflicting spend was mined
    assert len(orphans) == 0 and orphans._by_outpoint == {}


# -- persistence ---------------------------------------------------------------------------------


def _filled_env():
    env = Env()
    utxos = env.fund(4)
    txs = []
    parent = env.spend([utxos[0]], n_outputs=2)
    txs.append(parent)
    txs.append(env.spend([env.utxos(parent)[0]]))
    txs += [env.spend([u]) for u in utxos[1:3]]
    for tx in txs:
        env.pool.accept(tx)
        env.clock.now += 5
    env.pool.prioritise(txs[2].txid, 777)
    env.pool.prioritise(b"\x42" * 32, -5)          # a delta for a tx we never saw
    env.pool.add_unbroadcast(txs[3].txid)
    return env, txs, utxos


def _fresh_pool(env):
    return Mempool(env.params, ChainView(env.chain), clock=env.clock)


def test_round_trip(tmp_path):
    env, txs, _ = _filled_env()
    path = save_mempool(env.pool, tmp_path)
    assert path == mempool_path(tmp_path) and not (tmp_path / "mempool.dat.new").exists()
    pool = _fresh_pool(env)
    result = load_mempool(pool, tmp_path)
    assert result == {"loaded": 4, "failed": 0, "expired": 0, "already_there": 0, "error": None}
    pool.check()
    assert pool.loaded and pool.info()["loaded"]
    for tx in txs:
        a, b = env.pool.entry_info(tx.txid), pool.entry_info(tx.txid)
        assert a == b                           # times, fees, deltas, links, unbroadcast
    assert pool.fee_deltas() == env.pool.fee_deltas()


def test_version_1_layout_parsed_independently():
    env, txs, _ = _filled_env()
    data = dump_bytes(env.pool, MEMPOOL_DUMP_VERSION_NO_XOR_KEY)
    r = ByteReader(data)
    assert r.read_u64() == 1
    n = r.read_u64()
    seen = []
    for _ in range(n):
        tx = Transaction.read_from(r)
        t = r.read_i64()
        delta = r.read_i64()
        seen.append((tx.txid, t, delta))
    assert [s[0] for s in seen].index(txs[0].txid) < [s[0] for s in seen].index(txs[1].txid)
    assert {s[0]: s[2] for s in seen}[txs[2].txid] == 777
    assert r.read_compact_size() == 1 and r.read_hash() == b"\x42" * 32 and r.read_i64() == -5
    assert r.read_compact_size() == 1 and r.read_hash() == txs[3].txid_bytes
    r.expect_end()
    # version 2 is the same body XORed with the key from offset 17 on
    key = bytes(range(1, 9))
    v2 = dump_bytes(env.pool, MEMPOOL_DUMP_VERSION, key=key)
    assert v2[:17] == (2).to_bytes(8, "little") + b"\x08" + key
    plain = bytes(b ^ key[(17 + i) % 8] for i, b in enumerate(v2[17:]))
    assert plain == data[8:]


def test_load_skips_expired_and_invalid(tmp_path):
    env, txs, utxos = _filled_env()
    save_mempool(env.pool, tmp_path, version=1)
    env.mine([env.spend([utxos[1]], fee=4000, script_pubkey=env.builder.p2pkh)])  # conflicts txs[2]
    pool = _fresh_pool(env)
    result = load_mempool(pool, tmp_path)
    assert (result["loaded"], result["failed"]) == (3, 1)
    pool = _fresh_pool(env)
    result = load_mempool(pool, tmp_path, now=env.clock.now + 336 * 3600 - 12)
    assert result["expired"] == 2 and result["loaded"] == 1 and result["failed"] == 1


def test_load_truncated_and_missing(tmp_path):
    env, txs, _ = _filled_env()
    data = dump_bytes(env.pool, MEMPOOL_DUMP_VERSION_NO_XOR_KEY)
    (tmp_path / "mempool.dat").write_bytes(data[:-40])
    pool = _fresh_pool(env)
    result = load_mempool(pool, tmp_path)
    assert result["error"] and result["loaded"] == 4
    (tmp_path / "mempool.dat").unlink()
    assert load_mempool(_fresh_pool(env), tmp_path)["loaded"] == 0
    (tmp_path / "mempool.dat").write_bytes((9).to_bytes(8, "little"))
    assert "version" in load_mempool(_fresh_pool(env), tmp_path)["error"]
