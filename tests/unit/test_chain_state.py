"""coin.chain.chainstate on regtest: connect, chain selection, reorgs, invalid blocks,
invalidate/reconsider, orphans, headers, persistence, reindex and events.

Chains come from tests/blockbuilder.py; every ChainState runs on a real LevelDB in a
tmp dir. UTXO sets are compared with a ChainState that only ever saw the winning
branch (utxo_stats and the coins themselves).
"""

import contextlib

import pytest
from blockbuilder import BlockBuilder
from storage_faults import fill_disk_under_open_blk_file

from coin.chain.blockindex import BlockStatus
from coin.chain.chainstate import ChainState
from coin.consensus.errors import Rejection, RejectKind
from coin.params import get_params
from coin.primitives import Block

REGTEST = get_params("regtest")


def new_state(path, **kw) -> ChainState:
    kw.setdefault("script_threads", 2)
    return ChainState(REGTEST, path, **kw)


def feed(cs: ChainState, blocks) -> None:
    for b in blocks:
        cs.process_new_block(b)


def coins_of(cs: ChainState) -> dict:
    cs.flush()
    return dict(cs.coins_db.iter_coins())


def reference_stats(tmp_path, name, blocks):
    """utxo_stats and coins of a chain state that saw only `blocks`."""
    with new_state(tmp_path / name) as ref:
        feed(ref, blocks)
        return ref.utxo_stats(), coins_of(ref), ref.tip.hash_bytes


def branch(builder: BlockBuilder, prev_block: Block | None, n: int, *, spend_from: int = 0,
           start_height: int | None = None) -> list[Block]:
    """`n` blocks on `prev_block` (None: genesis); from height 101 on, each block spends
    the coinbase of the block 100 below it on this branch into two outputs."""
    prev = builder.entry_of(prev_block) if prev_block is not None else builder.genesis
    out = []
    for _ in range(n):
        h = prev.height + 1
        txs = []
        if h > 100 + spend_from:
            utxo = builder.coinbase_utxo(h - 100, tip=prev)
            txs = [builder.spend([utxo], n_outputs=2, fee=1000 + h)]
        b = builder.next_block(txs, prev=prev, set_tip=False)
        out.append(b)
        prev = builder.entry_of(b)
    return out


@pytest.fixture(scope="module")
def builder():
    return BlockBuilder(REGTEST)


@pytest.fixture(scope="module")
def main_chain(builder):
    """110 blocks: heights 101..110 each spend a matured coinbase."""
    return branch(builder, None, 110)


def test_new_datadir_starts_at_genesis(tmp_path):
    with new_state(tmp_path / "d") as cs:
        assert cs.height == 0 and cs.tip.hash_bytes == REGTEST.genesis_hash_bytes
        assert cs.tip.is_valid(BlockStatus.VALID_SCRIPTS) and cs.tip.have_data
        assert cs.get_block(cs.tip) == REGTEST.genesis
        stats = cs.utxo_stats()
        assert stats.txouts == 0 and stats.total_amount == 0   # genesis coinbase unspendable
        assert cs.chain_tips() == [{"height": 0, "hash": REGTEST.genesis_hash, "branchlen": 0,
                                    "status": "active"}]
        assert cs.process_new_block(REGTEST.genesis) == (True, False)
    with new_state(tmp_path / "d") as cs:
        assert cs.height == 0


def test_connect_chain_spends_and_events(tmp_path, builder, main_chain):
    seen = []
    with new_state(tmp_path / "d") as cs:
        cs.subscribe("block_connected", lambda b, e: seen.append(("c", e.height, b.hash)))
        cs.subscribe("block_disconnected", lambda b, e: seen.append(("d", e.height)))
        cs.subscribe("tip_changed", lambda e: seen.append(("t", e.height)))
        for b in main_chain:
            assert cs.process_new_block(b) == (True, True)
        assert cs.process_new_block(main_chain[50]) == (True, False)
        assert cs.height == 110 and cs.tip.hash == main_chain[-1].hash
        assert [s for s in seen if s[0] == "c"] == [("c", i + 1, b.hash) for i, b in enumerate(main_chain)]
        assert [s for s in seen if s[0] == "t"] == [("t", i) for i in range(1, 111)]
        # The spends took effect: coinbase of block 1 spent, the two outputs exist.
        spend = main_chain[100].txs[1]
        assert cs.coins_tip.get_coin(spend.inputs[0].prevout) is None
        for i, out in enumerate(spend.outputs):
            coin = cs.coins_tip.get_coin(builder.utxos_of(spend)[i].outpoint)
            assert coin.output == out and coin.height == 101 and not coin.is_coinbase
        cb = cs.coins_tip.get_coin(builder.utxos_of(main_chain[-1].txs[0])[0].outpoint)
        assert cb.is_coinbase and cb.height == 110
        stats = cs.utxo_stats()
        assert stats.height == 110 and stats.txouts == 110 + 10
        fees = sum(1000 + h for h in range(101, 111))
        assert stats.total_amount == sum(REGTEST_SUBSIDY(h) for h in range(1, 111))
        assert fees > 0
        entry = cs.get_entry(main_chain[-1].hash_bytes)
        assert entry.status & BlockStatus.HAVE_UNDO and entry.is_valid(BlockStatus.VALID_SCRIPTS)
        assert cs.get_block_bytes(entry) == main_chain[-1].to_bytes()
        undo = cs.get_undo(entry)
        assert len(undo.txs) == 1 and undo.txs[0].spent[0].height == 10
        assert cs.median_time_past() == entry.median_time_past()
        assert cs.is_initial_block_download()   # regtest block times are from 2011


def REGTEST_SUBSIDY(h: int) -> int:
    return (50 * 100_000_000) >> (h // REGTEST.subsidy_halving_interval)


def test_reopen_gives_same_tip_index_and_utxo(tmp_path, main_chain):
    with new_state(tmp_path / "d") as cs:
        feed(cs, main_chain[:60])
        stats = cs.utxo_stats()
        statuses = {e.hash_bytes: (e.status, e.file_no, e.data_pos, e.undo_pos) for e in cs.index}
    with new_state(tmp_path / "d") as cs:
        assert cs.tip.hash == main_chain[59].hash and cs.height == 60
        assert cs.utxo_stats() == stats
        assert {e.hash_bytes: (e.status, e.file_no, e.data_pos, e.undo_pos) for e in cs.index} == statuses
        feed(cs, main_chain[60:])
        assert cs.height == 110


def test_more_work_branch_wins_ties_keep_first_seen_and_one_block_reorg(tmp_path, builder, main_chain):
    a = main_chain[:105]
    fork = branch(builder, a[103], 2)         # competes with a[104], then overtakes
    events = []
    with new_state(tmp_path / "d") as cs:
        feed(cs, a)
        cs.subscribe("block_disconnected", lambda b, e: events.append(("d", b.hash)))
        cs.subscribe("block_connected", lambda b, e: events.append(("c", b.hash)))
        assert cs.process_new_block(fork[0]) == (True, True)
        assert cs.tip.hash == a[-1].hash               # equal work: first seen stays
        assert {t["status"] for t in cs.chain_tips()} == {"active", "valid-headers"}
        cs.process_new_block(fork[1])
        assert cs.tip.hash == fork[1].hash and cs.height == 106
        assert events == [("d", a[-1].hash), ("c", fork[0].hash), ("c", fork[1].hash)]
        tips = {t["hash"]: t for t in cs.chain_tips()}
        assert tips[a[-1].hash] == {"height": 105, "hash": a[-1].hash, "branchlen": 1,
                                    "status": "valid-fork"}
        assert tips[fork[1].hash]["status"] == "active"
        stats, coins = cs.utxo_stats(), coins_of(cs)
    ref_stats, ref_coins, _ = reference_stats(tmp_path, "ref", a[:104] + fork)
    assert stats == ref_stats and coins == ref_coins


def test_deep_reorg_matches_a_chain_that_only_saw_the_winner(tmp_path):
    builder = BlockBuilder(REGTEST, seed=b"deep reorg")
    a = branch(builder, None, 130)
    b = branch(builder, a[4], 127)   # forks at height 5, ends at 132: a 125-block reorg
    assert b[-1].header.prev_hash != a[-1].hash
    disconnected = []
    with new_state(tmp_path / "d", dbcache_mib=0) as cs:   # flushes after every block too
        feed(cs, a)
        assert cs.height == 130
        cs.subscribe("block_disconnected", lambda blk, e: disconnected.append(e.height))
        feed(cs, b[:125])                                   # equal work: no reorg yet
        assert cs.tip.hash == a[-1].hash and not disconnected
        feed(cs, b[125:])
        assert cs.tip.hash == b[-1].hash and cs.height == 132
        assert disconnected == list(range(130, 5, -1))
        stats, coins = cs.utxo_stats(), coins_of(cs)
    ref_stats, ref_coins, _ = reference_stats(tmp_path, "ref", a[:5] + b)
    assert stats == ref_stats and coins == ref_coins
    # And back again: the old branch overtakes once more.
    a_more = branch(builder, a[-1], 3)
    with new_state(tmp_path / "d") as cs:
        feed(cs, a_more)
        assert cs.tip.hash == a_more[-1].hash and cs.height == 133
        stats = cs.utxo_stats()
    assert stats == reference_stats(tmp_path, "ref2", a + a_more)[0]


def _bad_signature(builder: BlockBuilder, txs_index: int = 1):
    """A tweak that breaks the signature of the block's tx `txs_index` (witness stays the
    same size; the witness commitment is then recomputed so only the script fails)."""
    def tweak(block: Block) -> Block:
        txs = list(block.txs)
        tx = txs[txs_index]
        sig, pub = tx.inputs[0].witness
        bad = bytearray(sig)
        bad[10] ^= 0x01
        ins = [tx.inputs[0]._replace(witness=(bytes(bad), pub))] + list(tx.inputs[1:])
        txs[txs_index] = tx.replace(inputs=ins)
        return Block(block.header, txs)
    return tweak


def test_invalid_block_is_marked_and_its_children_refused(tmp_path, builder, main_chain):
    a = main_chain[:102]
    bad_amount = builder.next_block([], prev=builder.entry_of(a[-1]), fees=1, set_tip=False)
    child = builder.next_block([], prev=builder.entry_of(bad_amount), set_tip=False)
    utxo = builder.coinbase_utxo(3, tip=builder.entry_of(a[-1]))
    tx = builder.spend([utxo], n_outputs=2)
    bad_sig = builder.next_block([tx], prev=builder.entry_of(a[-1]), set_tip=False,
                                 tweak=_bad_signature(builder))
    with new_state(tmp_path / "d") as cs:
        feed(cs, a)
        with pytest.raises(Rejection) as e:
            cs.process_new_block(bad_amount)
        assert e.value.reason == "bad-cb-amount"
        entry = cs.get_entry(bad_amount.hash_bytes)
        assert entry.status & BlockStatus.FAILED_VALID and cs.tip.hash == a[-1].hash
        with pytest.raises(Rejection) as e:
            cs.process_new_block(bad_amount)
        assert e.value.reason == "duplicate-invalid" and e.value.kind is RejectKind.CACHED_INVALID
        with pytest.raises(Rejection) as e:
            cs.process_new_block(child)
        assert e.value.reason == "bad-prevblk"
        with pytest.raises(Rejection) as e:
            cs.process_new_block(bad_sig)
        assert e.value.reason.startswith("mandatory-script-verify-flag-failed (")
        assert cs.get_entry(bad_sig.hash_bytes).status & BlockStatus.FAILED_VALID
        assert cs.tip.hash == a[-1].hash
        tips = {t["hash"]: t["status"] for t in cs.chain_tips()}
        assert tips == {a[-1].hash: "active", bad_amount.hash: "invalid", bad_sig.hash: "invalid"}
        stats = cs.utxo_stats()
    with new_state(tmp_path / "d") as cs:      # failure flags persist
        assert cs.get_entry(bad_sig.hash_bytes).failed
        with pytest.raises(Rejection, match="duplicate-invalid"):
            cs.process_new_block(bad_sig)
        assert cs.utxo_stats() == stats


def test_stateless_failures_change_nothing(tmp_path, builder, main_chain):
    bad_merkle = builder.next_block([], prev=builder.entry_of(main_chain[0]), set_tip=False,
                                    tweak_after=lambda b: Block(b.header.replace(merkle_root_bytes=b"\x01" * 32), b.txs))
    with new_state(tmp_path / "d") as cs:
        feed(cs, main_chain[:1])
        with pytest.raises(Rejection, match="bad-txnmrklroot|high-hash"):
            cs.process_new_block(bad_merkle)
        assert cs.get_entry(bad_merkle.hash_bytes) is None


def test_more_work_branch_with_an_invalid_block_falls_back(tmp_path, builder, main_chain):
    a = main_chain[:105]
    prev = builder.entry_of(a[101])
    b1 = builder.next_block([], prev=prev, set_tip=False)
    b2 = builder.next_block([], prev=builder.entry_of(b1), fees=5, set_tip=False)  # bad-cb-amount
    b3 = builder.next_block([], prev=builder.entry_of(b2), set_tip=False)
    b4 = builder.next_block([], prev=builder.entry_of(b3), set_tip=False)          # more work than a
    seen = []
    with new_state(tmp_path / "d") as cs:
        feed(cs, a)
        before = cs.utxo_stats()
        cs.subscribe("tip_changed", lambda e: seen.append(e.height))
        for blk in (b1, b2, b3):
            assert cs.process_new_block(blk) == (True, True)
        assert cs.tip.hash == a[-1].hash and not seen
        assert cs.process_new_block(b4) == (True, True)   # the failure is b2's, not b4's
        assert cs.tip.hash == a[-1].hash
        assert cs.get_entry(b2.hash_bytes).status & BlockStatus.FAILED_VALID
        for blk in (b3, b4):
            assert cs.get_entry(blk.hash_bytes).status & BlockStatus.FAILED_CHILD
        assert cs.get_entry(b1.hash_bytes).is_valid(BlockStatus.VALID_SCRIPTS)
        assert cs.utxo_stats() == before
        assert seen == []     # back where it started: no net tip change
        tips = {t["hash"]: t["status"] for t in cs.chain_tips()}
        assert tips[b4.hash] == "invalid" and tips[a[-1].hash] == "active"


def test_invalidate_and_reconsider(tmp_path, builder, main_chain):
    a = main_chain[:104]
    fork = branch(builder, a[99], 2)    # heights 101, 102: less work than a
    with new_state(tmp_path / "d") as cs:
        feed(cs, a + fork)
        full = cs.utxo_stats()
        assert cs.tip.hash == a[-1].hash
        cs.invalidate_block(a[101].hash_bytes)          # height 102
        # Best remaining valid chain: the fork (102) beats a's 101.
        assert cs.tip.hash == fork[-1].hash and cs.height == 102
        assert cs.get_entry(a[101].hash_bytes).status & BlockStatus.FAILED_VALID
        assert all(cs.get_entry(b.hash_bytes).status & BlockStatus.FAILED_CHILD for b in a[102:])
        tips = {t["hash"]: t["status"] for t in cs.chain_tips()}
        assert tips == {fork[-1].hash: "active", a[-1].hash: "invalid"}
        with pytest.raises(Rejection, match="duplicate-invalid"):
            cs.process_new_block(a[103])
        forked = cs.utxo_stats()
        cs.invalidate_block(fork[0].hash_bytes)
        assert cs.tip.hash == a[100].hash
        cs.reconsider_block(a[103].hash_bytes)   # a descendant: clears ancestors too
        assert cs.tip.hash == a[-1].hash and not cs.get_entry(a[101].hash_bytes).failed
        assert cs.utxo_stats() == full
        assert cs.get_entry(fork[0].hash_bytes).failed
        cs.invalidate_block(a[100].hash_bytes)
        cs.reconsider_block(fork[0].hash_bytes)
        assert cs.tip.hash == fork[-1].hash and cs.utxo_stats() == forked
        cs.reconsider_block(a[100].hash_bytes)
        assert cs.tip.hash == a[-1].hash
        with pytest.raises(KeyError):
            cs.invalidate_block(b"\x00" * 32)
    assert reference_stats(tmp_path, "ref", a)[0] == full
    assert reference_stats(tmp_path, "ref2", a[:100] + fork)[0] == forked


def test_orphans_wait_for_their_parent(tmp_path, main_chain):
    blocks = main_chain[:30]
    with new_state(tmp_path / "d") as cs:
        feed(cs, blocks[:5])
        for b in reversed(blocks[6:]):
            with pytest.raises(Rejection) as e:
                cs.process_new_block(b)
            assert e.value.reason == "prev-blk-not-found" and e.value.kind is RejectKind.PREV_MISSING
        assert cs.orphan_count == 24 and cs.height == 5
        assert cs.process_new_block(blocks[5]) == (True, True)
        assert cs.height == 30 and cs.orphan_count == 0


def test_orphan_map_is_bounded(tmp_path, main_chain):
    with new_state(tmp_path / "d", max_orphans=5) as cs:
        for b in main_chain[1:20]:
            with pytest.raises(Rejection):
                cs.process_new_block(b)
        assert cs.orphan_count == 5
        cs.process_new_block(main_chain[0])
        assert cs.height == 1       # the orphans kept are the last five, not 2..6


def test_headers_first_then_blocks(tmp_path, builder, main_chain):
    with new_state(tmp_path / "d") as cs:
        feed(cs, main_chain[:10])
        for b in main_chain[10:20]:
            entry = cs.process_new_block_header(b.header)
            assert entry.height == main_chain.index(b) + 1 and not entry.have_data
        assert cs.best_header.hash == main_chain[19].hash and cs.height == 10
        tips = cs.chain_tips()
        assert tips[0] == {"height": 20, "hash": main_chain[19].hash, "branchlen": 10,
                           "status": "headers-only"}
        with pytest.raises(Rejection, match="prev-blk-not-found"):
            cs.process_new_block_header(main_chain[25].header)
        bad = main_chain[20].header.replace(nonce=main_chain[20].header.nonce + 1)
        while int.from_bytes(bad.hash_bytes, "little") <= (0x7FFFFF << 232):
            bad = bad.replace(nonce=bad.nonce + 1)
        with pytest.raises(Rejection, match="high-hash"):
            cs.process_new_block_header(bad)
        early = main_chain[20].header.replace(time=main_chain[0].header.time)
        with pytest.raises(Rejection, match="time-too-old|high-hash"):
            cs.process_new_block_header(early)
        feed(cs, main_chain[10:20])
        assert cs.height == 20 and len(cs.chain_tips()) == 1


def test_time_too_new_uses_the_injected_clock(tmp_path, main_chain):
    with new_state(tmp_path / "d", clock=lambda: main_chain[0].header.time - 7201) as cs:
        with pytest.raises(Rejection) as e:
            cs.process_new_block(main_chain[0])
        assert e.value.reason == "time-too-new" and e.value.kind is RejectKind.TIME_FUTURE
        assert cs.get_entry(main_chain[0].hash_bytes) is None


def _crash(cs: ChainState) -> None:
    """Release the database without flushing the cache or the index (a process death)."""
    cs._executor.shutdown()
    cs.db.close()


def test_crash_without_close_restarts_consistent(tmp_path, main_chain):
    """Out of initial block download every accepted block is durable at once: after a
    crash the blocks stored after the best-block marker are reconnected."""
    expect = reference_stats(tmp_path, "ref", main_chain)[0]
    synced = lambda: main_chain[-1].header.time + 600   # noqa: E731 - the tip is recent: not IBD
    cs = new_state(tmp_path / "d", clock=synced)
    feed(cs, main_chain[:100])
    cs.flush()
    feed(cs, main_chain[100:])
    assert not cs.is_initial_block_download()
    _crash(cs)
    with new_state(tmp_path / "d", clock=synced) as cs2:
        assert cs2.tip.hash == main_chain[-1].hash
        assert cs2.utxo_stats() == expect


def test_crash_in_ibd_loses_only_uncommitted_blocks(tmp_path, main_chain):
    """In IBD new entries are group-committed: a crash may lose the last blocks, never
    consistency. The lost blocks are simply accepted again."""
    cs = new_state(tmp_path / "d")
    feed(cs, main_chain[:100])
    cs.flush()
    feed(cs, main_chain[100:])
    assert cs.is_initial_block_download()
    _crash(cs)
    with new_state(tmp_path / "d") as cs2:
        height = cs2.height
        assert 100 <= height <= 110
        assert cs2.utxo_stats() == reference_stats(tmp_path, "ref", main_chain[:height])[0]
        feed(cs2, main_chain[height:])
        assert cs2.height == 110


def test_reindex_rebuilds_the_same_state(tmp_path, builder, main_chain):
    fork = branch(builder, main_chain[102], 2)
    with new_state(tmp_path / "d") as cs:
        feed(cs, main_chain[:105] + fork)
        stats = cs.utxo_stats()
        tips = cs.chain_tips()
        progress = []
        counts = cs.reindex(progress=lambda n, done, total: progress.append((n, done, total)))
        assert counts["accepted"] == 107 and counts["rejected"] == 0
        assert progress and progress[-1][0] == 108
        assert cs.utxo_stats() == stats and cs.tip.hash == main_chain[104].hash
        assert cs.chain_tips() == [dict(t, status="valid-headers" if t["status"] == "valid-fork"
                                        else t["status"]) for t in tips]
    with new_state(tmp_path / "d") as cs:
        assert cs.utxo_stats() == stats


def test_interrupted_reindex_resumes_at_startup(tmp_path, main_chain):
    with new_state(tmp_path / "d") as cs:
        feed(cs, main_chain[:20])
        stats = cs.utxo_stats()
        cs.db.put(b"R", b"\x01", sync=True)   # as if killed during a reindex
    with new_state(tmp_path / "d") as cs:
        assert cs.db.get(b"R") is None
        assert cs.height == 20 and cs.utxo_stats() == stats


def test_event_handler_errors_do_not_break_the_chain(tmp_path, main_chain):
    with new_state(tmp_path / "d") as cs:
        def boom(*_):
            raise RuntimeError("handler bug")
        cs.subscribe("block_connected", boom)
        cs.subscribe("tip_changed", boom)
        feed(cs, main_chain[:3])
        assert cs.height == 3
        with pytest.raises(ValueError):
            cs.subscribe("no_such_event", boom)


def test_orphan_memory_is_bounded_by_bytes(tmp_path, main_chain):
    size = main_chain[5].total_size
    with new_state(tmp_path / "d", max_orphan_bytes=3 * size + 10) as cs:
        for b in main_chain[5:15]:
            with pytest.raises(Rejection):
                cs.process_new_block(b)
        assert cs.orphan_count == 3


def test_preciousblock_switches_between_equal_work_tips(tmp_path, builder, main_chain):
    """Core's PreciousBlock: among tips of equal work the precious one becomes active
    (a later call overrides an earlier one); less work is left alone; more work still
    wins. The UTXO set is that of the chain finally active."""
    a = main_chain[:105]
    fork = branch(builder, a[103], 2)         # fork[0] has a[104]'s work
    with new_state(tmp_path / "p") as cs:
        feed(cs, a)
        cs.process_new_block(fork[0])
        assert cs.tip.hash == a[-1].hash                  # first seen
        cs.precious_block(fork[0].hash_bytes)
        assert cs.tip.hash == fork[0].hash                # reorg to the precious one
        cs.precious_block(a[-1].hash_bytes)
        assert cs.tip.hash == a[-1].hash                  # a later call overrides
        cs.precious_block(a[-2].hash_bytes)
        assert cs.tip.hash == a[-1].hash                  # less work: nothing happens
        cs.process_new_block(fork[1])
        assert cs.tip.hash == fork[1].hash                # more work wins regardless
        with pytest.raises(KeyError):
            cs.precious_block(b"\x00" * 32)
        stats, coins = cs.utxo_stats(), coins_of(cs)
    ref_stats, ref_coins, _ = reference_stats(tmp_path, "ref", a[:104] + fork)
    assert stats == ref_stats and coins == ref_coins


def test_a_failed_block_file_write_is_a_fatal_error_event(tmp_path):
    """Disk full while storing blocks: the chain state raises InternalError and emits
    `fatal_error` once, which the node turns into a shutdown (Core's AbortNode)."""
    from coin.consensus.errors import InternalError

    cs = ChainState(get_params("regtest"), tmp_path / "chain", script_threads=1)
    try:
        seen = []
        cs.subscribe("fatal_error", seen.append)
        cs.blockfiles.write_block(b"\x00" * 100)   # an open, buffered blk file
        fill_disk_under_open_blk_file(cs.blockfiles)
        with pytest.raises(InternalError, match="No space left"):
            cs.flush()
        assert len(seen) == 1 and "No space left" in seen[0]
    finally:
        with contextlib.suppress(InternalError):
            cs.close()
