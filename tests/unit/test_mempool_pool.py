"""The pool (coin.mempool.pool.Mempool): chains of unconfirmed transactions, package limits,
replacement (each of Core's reasons), eviction with the rolling minimum fee, expiry,
block connect / disconnect (reorgs) with real blocks, block selection, prioritisation.

Every test ends with `pool.check()`, which recomputes every link and aggregate from
scratch: the incremental bookkeeping is tested against a from-scratch oracle.
"""

import pytest
from test_mempool_support import Env

from coin.consensus.errors import Rejection, RejectKind
from coin.mempool.policy import FeeRate, Policy, format_money
from coin.mempool.pool import Limits, RemovalReason
from coin.primitives import OutPoint, TxOut


@pytest.fixture
def env():
    return Env()


def reject(env, tx, **kwargs) -> Rejection:
    with pytest.raises(Rejection) as info:
        env.pool.accept(tx, **kwargs)
    env.pool.check()
    return info.value


def chain_of(env, utxo, n, fee=1000):
    """n transactions, each spending output 0 of the previous one."""
    txs = []
    for _ in range(n):
        tx = env.spend([utxo], fee=fee)
        txs.append(tx)
        utxo = env.utxos(tx)[0]
    return txs


# -- chains of unconfirmed transactions ------------------------------------------------------


def test_chain_of_unconfirmed(env):
    (u,) = env.fund(1)
    txs = chain_of(env, u, 10)
    for tx in txs:
        env.pool.accept(tx)
    env.pool.check()
    first, last = env.pool.get(txs[0].txid), env.pool.get(txs[-1].txid)
    assert first.count_with_descendants == 10 and first.count_with_ancestors == 1
    assert last.count_with_ancestors == 10
    assert last.fees_with_ancestors == sum(1000 for _ in txs)
    assert last.size_with_ancestors == sum(tx.vsize for tx in txs)
    info = env.pool.entry_info(txs[5].txid)
    assert info["depends"] == [txs[4].txid] and info["spentby"] == [txs[6].txid]
    assert env.pool.info()["size"] == 10
    assert env.pool.info()["bytes"] == sum(tx.vsize for tx in txs)
    assert env.pool.info()["total_fee"] == 10_000


def test_sequence_counts_additions_and_removals(env):
    (u,) = env.fund(1)
    seq = env.pool.sequence
    tx = env.spend([u])
    env.pool.accept(tx)
    assert env.pool.sequence == seq + 1
    env.mine([tx])
    assert env.pool.sequence == seq + 2


def test_ancestor_limit(env):
    (u,) = env.fund(1)
    txs = chain_of(env, u, 26)
    for tx in txs[:25]:
        env.pool.accept(tx)
    r = reject(env, txs[25])
    assert (r.reason, r.debug) == ("too-long-mempool-chain", "too many unconfirmed ancestors [limit: 25]")


def test_descendant_limit_and_cpfp_carve_out(env):
    (u,) = env.fund(1)
    parent = env.spend([u], n_outputs=30, fee=5000)
    env.pool.accept(parent)
    outs = env.utxos(parent)
    for o in outs[:24]:
        env.pool.accept(env.spend([o], fee=500))
    # the 25th descendant exceeds the limit, but the carve-out admits one small child
    env.pool.accept(env.spend([outs[24]], fee=500))
    r = reject(env, env.spend([outs[25]], fee=500))
    assert r.reason == "too-long-mempool-chain"
    assert r.debug == f"too many descendants for tx {parent.txid} [limit: 25]"
    assert env.pool.get(parent.txid).count_with_descendants == 26


def test_ancestor_size_limit():
    env = Env(limits=Limits(ancestor_size_vbytes=300))
    (u,) = env.fund(1)
    a, b, c = chain_of(env, u, 3)
    env.pool.accept(a)
    env.pool.accept(b)
    r = reject(env, c)
    assert r.reason == "too-long-mempool-chain"
    assert r.debug == "exceeds ancestor size limit [limit: 300]"


# -- replacement ---------------------------------------------------------------------------------


def test_replacement_accepted_full_rbf(env):
    events = []
    env.pool.subscribe("removed", lambda e, reason: events.append((e.tx.txid, reason)))
    (u,) = env.fund(1)
    original = env.spend([u], fee=1000)                     # does not signal BIP-0125
    env.pool.accept(original)
    child = env.spend([env.utxos(original)[0]], fee=1000)
    env.pool.accept(child)
    replacement = env.spend([u], fee=5000)
    result = env.pool.accept(replacement)
    assert sorted(result.replaced) == sorted([original.txid, child.txid])
    assert sorted(events) == sorted([(original.txid, RemovalReason.REPLACED),
                                     (child.txid, RemovalReason.REPLACED)])
    assert not env.pool.contains(original.txid) and env.pool.contains(replacement.txid)
    env.pool.check()


def test_replacement_feerate_not_higher(env):
    (u,) = env.fund(1)
    original = env.spend([u], fee=1000)
    env.pool.accept(original)
    replacement = env.spend([u], fee=1000, n_outputs=1, script_pubkey=env.builder.p2pkh)
    new = FeeRate.from_fee(1000, replacement.vsize)
    old = FeeRate.from_fee(1000, original.vsize)
    assert new <= old
    r = reject(env, replacement)
    assert r.reason == "insufficient fee"
    assert r.debug == (f"rejecting replacement {replacement.txid}; new feerate {new.to_string()} "
                       f"<= old feerate {old.to_string()}")


def test_replacement_less_fees_than_conflicts(env):
    (u,) = env.fund(1)
    original = env.spend([u], fee=1000)
    env.pool.accept(original)
    child = env.spend([env.utxos(original)[0]], fee=5000)
    env.pool.accept(child)
    replacement = env.spend([u], fee=2000)   # beats the direct conflict's feerate only
    r = reject(env, replacement)
    assert r.reason == "insufficient fee"
    assert r.debug == (f"rejecting replacement {replacement.txid}, less fees than conflicting "
                       f"txs; {format_money(2000)} < {format_money(6000)}")


def test_replacement_not_enough_additional_fees(env):
    (u,) = env.fund(1)
    original = env.spend([u], fee=1000)
    env.pool.accept(original)
    replacement = env.spend([u], fee=1050)
    r = reject(env, replacement)
    assert r.reason == "insufficient fee"
    relay = FeeRate(1000).get_fee(replacement.vsize)
    assert r.debug == (f"rejecting replacement {replacement.txid}, not enough additional fees to "
                       f"relay; {format_money(50)} < {format_money(relay)}")
    ok = env.spend([u], fee=1000 + relay)
    env.pool.accept(ok)


def test_replacement_adds_unconfirmed(env):
    u1, u2 = env.fund(2)
    original = env.spend([u1], fee=1000)
    other = env.spend([u2], fee=1000)
    env.pool.accept(original)
    env.pool.accept(other)
    replacement = env.spend([u1, env.utxos(other)[0]], fee=20_000)
    r = reject(env, replacement)
    assert r.reason == "replacement-adds-unconfirmed"
    assert r.debug == f"replacement {replacement.txid} adds unconfirmed input, idx 1"


def test_replacement_spends_conflicting_tx(env):
    (u,) = env.fund(1)
    original = env.spend([u], fee=1000, n_outputs=2)
    env.pool.accept(original)
    replacement = env.spend([u, env.utxos(original)[1]], fee=20_000)
    r = reject(env, replacement)
    assert (r.reason, r.kind) == ("bad-txns-spends-conflicting-tx", RejectKind.CONSENSUS)
    assert r.debug == f"{replacement.txid} spends conflicting transaction {original.txid}"


def test_too_many_potential_replacements(env):
    utxos = env.fund(5)
    for u in utxos:
        parent = env.spend([u], fee=1000, n_outputs=24)
        env.pool.accept(parent)
        for o in env.utxos(parent):
            env.pool.accept(env.spend([o], fee=200))
    assert len(env.pool) == 125
    replacement = env.spend(utxos, fee=2_000_000)
    r = reject(env, replacement)
    assert r.reason == "too many potential replacements"
    assert r.debug == (f"rejecting replacement {replacement.txid}; too many potential "
                       f"replacements (125 > 100)\n")


def test_opt_in_rbf_without_full_rbf():
    env = Env(policy=Policy(full_rbf=False))
    u1, u2 = env.fund(2)
    final = env.spend([u1], fee=1000, sequence=0xFFFFFFFE)
    env.pool.accept(final)
    r = reject(env, env.spend([u1], fee=9000))
    assert (r.reason, r.kind) == ("txn-mempool-conflict", RejectKind.CONFLICT)
    signalling = env.spend([u2], fee=1000, sequence=0xFFFFFFFD)
    env.pool.accept(signalling)
    assert env.pool.entry_info(signalling.txid)["bip125-replaceable"] is True
    assert env.pool.entry_info(final.txid)["bip125-replaceable"] is False
    child = env.spend([env.utxos(signalling)[0]], fee=1000, sequence=0xFFFFFFFE)
    env.pool.accept(child)
    assert env.pool.entry_info(child.txid)["bip125-replaceable"] is True   # inherited
    result = env.pool.accept(env.spend([u2], fee=9000))
    assert sorted(result.replaced) == sorted([signalling.txid, child.txid])
    env.pool.check()


# -- size limit, rolling minimum fee, expiry -------------------------------------------------------


def test_eviction_and_rising_min_fee():
    env = Env()
    utxos = env.fund(12)
    first = env.spend([utxos[0]], fee=1000)
    per_entry = env.pool.get(env.pool.accept(first).txid).usage
    env.pool.max_size_bytes = per_entry * 10 + per_entry // 2   # room for ten
    accepted = [first]
    for i, u in enumerate(utxos[1:10], start=2):
        tx = env.spend([u], fee=1000 * i)
        env.pool.accept(tx)
        accepted.append(tx)
    assert len(env.pool) == 10 and env.pool.get_min_fee() == FeeRate(0)
    top = env.spend([utxos[10]], fee=50_000)
    env.pool.accept(top)
    env.pool.check()
    assert not env.pool.contains(first.txid)          # the lowest feerate went
    assert len(env.pool) == 10
    evicted_rate = FeeRate.from_fee(1000, first.vsize).per_kvb + 1000
    assert env.pool.get_min_fee() == FeeRate(evicted_rate)
    assert env.pool.info()["mempoolminfee"] == evicted_rate
    low = env.spend([utxos[11]], fee=1000)
    r = reject(env, low)
    need = FeeRate(evicted_rate).get_fee(low.vsize)
    assert (r.reason, r.debug) == ("mempool min fee not met", f"1000 < {need}")


def test_mempool_full_when_the_newcomer_is_the_worst():
    env = Env()
    utxos = env.fund(3)
    a = env.spend([utxos[0]], fee=5000)
    per_entry = env.pool.get(env.pool.accept(a).txid).usage
    env.pool.max_size_bytes = per_entry * 2 - 1
    r = reject(env, env.spend([utxos[1]], fee=2000))
    assert r.reason == "mempool full"
    assert env.pool.contains(a.txid) and len(env.pool) == 1


def test_min_fee_decays_after_blocks():
    env = Env()
    utxos = env.fund(3)
    a = env.spend([utxos[0]], fee=3000)
    per_entry = env.pool.get(env.pool.accept(a).txid).usage
    env.pool.max_size_bytes = per_entry + per_entry // 2
    env.pool.accept(env.spend([utxos[1]], fee=20_000))
    bumped = env.pool.get_min_fee()
    assert bumped.per_kvb > 1000
    env.clock.now += 3600
    assert env.pool.get_min_fee() == bumped          # no block yet: no decay
    env.mine([])
    env.clock.now += 6 * 3600                         # the pool is small: 3-hour half-life
    decayed = env.pool.get_min_fee()
    assert decayed.per_kvb < bumped.per_kvb
    env.clock.now += 7 * 24 * 3600
    assert env.pool.get_min_fee() == FeeRate(0)


def test_expiry(env):
    removed = []
    env.pool.subscribe("removed", lambda e, reason: removed.append(reason))
    u1, u2 = env.fund(2)
    old = env.spend([u1])
    env.pool.accept(old)
    env.pool.accept(env.spend([env.utxos(old)[0]]))
    env.clock.now += 336 * 3600 + 1
    env.pool.accept(env.spend([u2]))
    assert len(env.pool) == 1 and removed == [RemovalReason.EXPIRY] * 2
    env.pool.check()


# -- blocks ------------------------------------------------------------------------------------


def test_block_removes_confirmed_and_conflicts(env):
    u1, u2 = env.fund(2)
    a = env.spend([u1])
    b = env.spend([u2])
    env.pool.accept(a)
    env.pool.accept(b)
    child = env.spend([env.utxos(a)[0]])
    env.pool.accept(child)
    double = env.spend([u2], fee=3000, script_pubkey=env.builder.p2pkh)
    grandchild = env.spend([env.utxos(b)[0]])
    env.pool.accept(grandchild)
    env.mine([a, double])
    assert env.pool.txids() == [child.txid]
    e = env.pool.get(child.txid)
    assert e.count_with_ancestors == 1 and e.parents == set()
    env.pool.check()


def test_signatures_cached_for_block_connect(env):
    (u,) = env.fund(1)
    tx = env.spend([u])
    env.pool.accept(tx)
    cache = env.pool.sigcache
    hits = cache.hits
    block = env.builder.next_block([tx])
    env.chain.process_block(block, sigcache=cache)
    assert cache.hits > hits


def test_reorg_returns_transactions_and_drops_double_spends(env):
    u1, u2 = env.fund(2)
    a = env.spend([u1])
    b = env.spend([u2])
    env.mine([a, b])
    child = env.spend([env.utxos(a)[0]])
    env.pool.accept(child)
    env.disconnect()
    env.pool.check()
    assert set(env.pool.txids()) == {a.txid, b.txid, child.txid}
    e = env.pool.get(child.txid)
    assert e.parents == {env.pool.get(a.txid)} and e.count_with_ancestors == 2
    assert env.pool.get(a.txid).fees_with_descendants == 2000
    # the new chain confirms a double spend of a's input: a and its child go
    double = env.spend([u1], fee=5000, script_pubkey=env.builder.p2pkh)
    env.mine([double])
    env.mine([])
    assert env.pool.txids() == [b.txid]
    env.pool.check()


def test_reorg_removes_immature_coinbase_spends_and_non_final(env):
    (u,) = env.fund(1)
    cb = env.builder.coinbase_utxo(env.chain.tip.height + 1 - 100)  # just mature next block
    spend_cb = env.spend([cb])
    env.pool.accept(spend_cb)
    locked = env.spend([u], lock_time=env.chain.tip.height)  # final in the next block only
    env.pool.accept(locked)
    assert env.pool.contains(spend_cb.txid) and env.pool.contains(locked.txid)
    removed = []
    env.pool.subscribe("removed", lambda e, reason: removed.append((e.tx.txid, reason)))
    env.disconnect()   # the funding block goes: u's coin too, so locked goes as well
    assert (spend_cb.txid, RemovalReason.REORG) in removed
    assert not env.pool.contains(locked.txid)
    env.pool.check()


def test_reorg_non_final_by_lock_time(env):
    (u,) = env.fund(1)
    env.mine([])
    locked = env.spend([u], lock_time=env.chain.tip.height)
    env.pool.accept(locked)
    env.disconnect()                 # the empty block: u stays, the lock time no longer passes
    assert not env.pool.contains(locked.txid)


# -- block selection --------------------------------------------------------------------------


def test_select_for_block_ancestor_feerate(env):
    u1, u2, u3 = env.fund(3)
    parent = env.spend([u1], fee=200)
    env.pool.accept(parent, bypass_limits=True)   # below the relay fee: a reorg leftover
    child = env.spend([env.utxos(parent)[0]], fee=20_000)
    env.pool.accept(child)
    middle = env.spend([u2], fee=3000)
    env.pool.accept(middle)
    cheap = env.spend([u3], fee=100)
    env.pool.accept(cheap, bypass_limits=True)
    chosen = env.pool.select_for_block()
    # the CPFP package (20200 sat / ~220 vB) beats the lone 3000-sat tx; 100 sat / 110 vB
    # is below -blockmintxfee (1000 sat/kvB) and stays out
    assert [c.tx.txid for c in chosen] == [parent.txid, child.txid, middle.txid]
    assert [c.fee for c in chosen] == [200, 20_000, 3000]
    assert env.pool.select_for_block(max_weight=4000 + 4 * child.vsize + 4 * middle.vsize)[0].tx == middle


def test_select_for_block_is_a_valid_block(env):
    utxos = env.fund(6)
    txs = []
    for i, u in enumerate(utxos):
        a = env.spend([u], fee=500 + 700 * i, n_outputs=2)
        env.pool.accept(a)
        b = env.spend([env.utxos(a)[0]], fee=300 * (6 - i))
        env.pool.accept(b)
        txs += [a, b]
    chosen = [c.tx for c in env.pool.select_for_block()]
    assert sorted(t.txid for t in chosen) == sorted(t.txid for t in txs)
    env.mine(chosen)                    # MemoryChain validates order, scripts and fees
    assert len(env.pool) == 0


# -- prioritisation --------------------------------------------------------------------------


def test_prioritise(env):
    (u,) = env.fund(1)
    parent = env.spend([u], fee=1000)
    env.pool.prioritise(parent.txid, 5000)            # before it arrives
    env.pool.accept(parent)
    assert env.pool.get(parent.txid).modified_fee == 6000
    child = env.spend([env.utxos(parent)[0]], fee=1000)
    env.pool.accept(child)
    assert env.pool.get(child.txid).fees_with_ancestors == 7000
    env.pool.prioritise(child.txid, -500)
    assert env.pool.get(parent.txid).fees_with_descendants == 6500
    info = env.pool.entry_info(child.txid)
    assert info["fees"] == {"base": 1000, "modified": 500, "ancestor": 6500, "descendant": 500}
    env.pool.check()
    env.mine([parent, child])
    assert env.pool.fee_deltas() == {}


def test_prioritised_tx_passes_fee_floor(env):
    (u,) = env.fund(1)
    tx = env.spend([u], fee=50)
    assert reject(env, tx).reason == "min relay fee not met"
    env.pool.prioritise(tx.txid, 1000)
    env.pool.accept(tx)


# -- the real chain state -------------------------------------------------------------------


def test_connect_to_chainstate_reorg(tmp_path):
    from blockbuilder import BlockBuilder

    from coin.chain.chainstate import ChainState
    from coin.mempool.pool import Mempool

    builder = BlockBuilder()
    with ChainState(builder.params, tmp_path, script_threads=1) as cs:
        for block in builder.build_chain(102):
            cs.process_new_block(block)
        pool = Mempool(builder.params, cs, clock=lambda: builder.tip.header.time + 60)
        pool.connect_to_chain(cs)
        cb1, cb2 = builder.coinbase_utxo(1), builder.coinbase_utxo(2)
        a = builder.spend([cb1], n_outputs=2)
        b = builder.spend([cb2])
        pool.accept(a)
        pool.accept(b)
        fork_point = builder.tip
        cs.process_new_block(builder.next_block([a, b]))
        assert len(pool) == 0
        child = builder.spend([builder.utxos_of(a)[0]])
        pool.accept(child)
        # a longer branch from the fork point confirms a double spend of b's input
        double = builder.spend([cb2], fee=4000, script_pubkey=builder.p2pkh)
        f1 = builder.next_block([double], prev=fork_point, set_tip=True)
        f2 = builder.next_block([])
        cs.process_new_block(f1)
        cs.process_new_block(f2)
        assert cs.tip.hash_bytes == f2.hash_bytes
        assert set(pool.txids()) == {a.txid, child.txid}
        pool.check()
        assert pool.get(child.txid).count_with_ancestors == 2
        assert pool.get_coin(OutPoint(a.txid_bytes, 1)).output == TxOut(a.outputs[1].value,
                                                                        a.outputs[1].script_pubkey)
