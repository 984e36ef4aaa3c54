"""coin.chain.blockindex: entries, skip-list ancestors, median time past, the active chain."""

import random
import statistics

import pytest

from coin.chain import layout
from coin.chain.blockindex import (
    ActiveChain,
    BlockIndex,
    BlockIndexEntry,
    BlockStatus,
    get_skip_height,
)
from coin.consensus.pow import block_work
from coin.params import get_params
from coin.primitives import BlockHeader

REGTEST = get_params("regtest")


def _chain(n: int, *, start=None, salt: int = 0, index: BlockIndex | None = None,
           rng: random.Random | None = None) -> list[BlockIndexEntry]:
    """`n` entries with synthetic headers on top of `start` (default: a fresh genesis)."""
    rng = rng or random.Random(salt)
    out = []
    prev = start
    if prev is None:
        g = REGTEST.genesis.header
        prev = index.add(g, None) if index is not None else BlockIndexEntry(g, None)
        out.append(prev)
    for i in range(n - (1 if start is None else 0)):
        header = BlockHeader(4, prev.hash_bytes, (salt * 1_000_003 + i).to_bytes(32, "little"),
                             prev.header.time + rng.randrange(-300, 1200), 0x207FFFFF, salt)
        if index is not None:
            prev = index.add(header, prev)
        else:  # a synthetic hash: these entries are never looked up by hash
            prev = BlockIndexEntry(header, prev, hash_bytes=(salt, i).__repr__().encode().ljust(32))
        out.append(prev)
    return out


@pytest.fixture(scope="module")
def long_chain():
    return _chain(100_000)


def test_skip_heights_match_core():
    # Values of Core's GetSkipHeight (chain.cpp) for a few heights.
    assert [get_skip_height(h) for h in (0, 1, 2, 3, 4, 5, 6, 7, 8, 100, 1001)] == \
        [0, 0, 0, 1, 0, 1, 4, 1, 0, 96, 961]
    for h in range(2, 5000):
        assert 0 <= get_skip_height(h) < h


def test_get_ancestor_on_100k_blocks(long_chain):
    rng = random.Random(7)
    tip = long_chain[-1]
    assert tip.height == 99_999
    for _ in range(3000):
        e = long_chain[rng.randrange(len(long_chain))]
        h = rng.randrange(e.height + 1)
        assert e.get_ancestor(h) is long_chain[h]
    assert tip.get_ancestor(tip.height) is tip
    assert tip.get_ancestor(100_000) is None and tip.get_ancestor(-1) is None


def test_get_ancestor_takes_logarithmic_steps(long_chain):
    """Count the pointer hops: the skip list must not walk block by block."""
    tip = long_chain[-1]
    worst = 0
    for target in range(0, tip.height, 997):
        steps, e, h = 0, tip, tip.height
        while h > target:
            hs, hsp = get_skip_height(h), get_skip_height(h - 1)
            if e.skip is not None and (hs == target or (hs > target and not (hsp < hs - 2 and hsp >= target))):
                e, h = e.skip, hs
            else:
                e, h = e.prev, h - 1
            steps += 1
        assert e is long_chain[target]
        worst = max(worst, steps)
    assert worst < 200


def test_chain_work_accumulates(long_chain):
    w = block_work(0x207FFFFF)
    assert w == 2
    for h in (0, 1, 500, 99_999):
        assert long_chain[h].chain_work == w * (h + 1)


def test_median_time_past_matches_statistics(long_chain):
    for h in (0, 1, 2, 5, 10, 11, 12, 5000, 99_999):
        e = long_chain[h]
        times = [long_chain[i].header.time for i in range(max(0, h - 10), h + 1)]
        assert e.median_time_past() == statistics.median_high(times) == sorted(times)[len(times) // 2]


def test_status_validity_levels():
    e = BlockIndexEntry(REGTEST.genesis.header, None)
    assert not e.is_valid(BlockStatus.VALID_HEADER)
    assert e.raise_validity(BlockStatus.VALID_TREE)
    assert e.is_valid(BlockStatus.VALID_HEADER) and e.is_valid(BlockStatus.VALID_TREE)
    assert not e.is_valid(BlockStatus.VALID_TRANSACTIONS)
    assert not e.raise_validity(BlockStatus.VALID_TREE)
    e.raise_validity(BlockStatus.VALID_SCRIPTS)
    assert e.status & BlockStatus.VALID_MASK == BlockStatus.VALID_MASK
    e.status |= BlockStatus.FAILED_CHILD
    assert e.failed and not e.is_valid(BlockStatus.VALID_HEADER)
    assert not e.raise_validity(BlockStatus.VALID_SCRIPTS)
    assert BlockStatus.HAVE_HEADER == BlockStatus.VALID_HEADER


def test_index_record_round_trip_and_load_in_any_order():
    idx = BlockIndex()
    main = _chain(50, index=idx)
    fork = _chain(10, start=main[30], salt=9, index=idx)
    for i, e in enumerate(main):
        e.status = BlockStatus.VALID_MASK | BlockStatus.HAVE_DATA | BlockStatus.HAVE_UNDO
        e.n_tx, e.file_no, e.data_pos, e.undo_pos = i + 1, i // 20, 8 + i * 300, 8 + i * 40
    fork[-1].status |= BlockStatus.FAILED_VALID
    records = [(layout.block_index_key(e.hash_bytes), e.to_record()) for e in idx]
    random.Random(3).shuffle(records)
    idx2 = BlockIndex()
    idx2.load(iter(records))
    assert len(idx2) == len(idx) == 60
    for e in idx:
        f = idx2.get(e.hash_bytes)
        assert (f.height, f.header, f.status, f.n_tx, f.file_no, f.data_pos, f.undo_pos,
                f.chain_work) == (e.height, e.header, e.status, e.n_tx, e.file_no, e.data_pos,
                                  e.undo_pos, e.chain_work)
        assert (f.prev.hash_bytes if f.prev else None) == (e.prev.hash_bytes if e.prev else None)
    assert {t.hash_bytes for t in idx2.tips()} == {main[-1].hash_bytes, fork[-1].hash_bytes}
    assert {d.hash_bytes for d in idx2.descendants(idx2.get(main[30].hash_bytes))} == \
        {e.hash_bytes for e in main[31:] + fork}


def test_active_chain_set_tip_fork_next_and_locator():
    idx = BlockIndex()
    main = _chain(200, index=idx)
    fork = _chain(30, start=main[150], salt=5, index=idx)
    chain = ActiveChain()
    assert chain.tip is None and chain.height == -1
    chain.set_tip(main[-1])
    assert chain.tip is main[-1] and chain.height == 199 and len(chain) == 200
    assert chain[0] is main[0] and chain[199] is main[199] and chain[200] is None and chain[-1] is None
    assert chain.contains(main[100]) and not chain.contains(fork[5])
    assert chain.next(main[100]) is main[101] and chain.next(main[-1]) is None
    assert chain.next(fork[0]) is None
    assert chain.find_fork(fork[-1]) is main[150]
    assert chain.find_fork(main[20]) is main[20]
    # Locator: the tip, then 9 more one by one, then doubling steps, ending at genesis.
    loc = chain.get_locator()
    heights = [idx.get(h).height for h in loc]
    assert heights[:11] == list(range(199, 188, -1))
    assert heights[11:14] == [188, 186, 182] and heights[-1] == 0
    # Reorg to the fork: only the differing part changes.
    chain.set_tip(fork[-1])
    assert chain.tip is fork[-1] and chain.height == 180
    assert chain[150] is main[150] and chain[151] is fork[0]
    assert chain.find_fork(main[-1]) is main[150]
    assert [idx.get(h).height for h in chain.get_locator(main[-1])][:3] == [199, 198, 197]
    chain.set_tip(main[10])
    assert chain.height == 10 and chain.tip is main[10]
