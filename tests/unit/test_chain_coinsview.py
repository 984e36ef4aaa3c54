"""coin.chain.coinsview: Core's CCoinsViewCache semantics over a real LevelDB.

The DIRTY/FRESH rules are checked one by one (as Core's coins_tests do), then a random
sequence of operations on a DB <- cache <- child stack is compared with a plain dict
model of the UTXO set.
"""

import random

import pytest

from coin.chain import layout
from coin.chain.coinsview import DIRTY, FRESH, CoinsViewCache, CoinsViewDB
from coin.chain.db import ChainDB
from coin.consensus.coins import Coin, CoinsView
from coin.consensus.errors import InternalError
from coin.primitives import OutPoint, TxOut


def op(i: int, n: int = 0) -> OutPoint:
    return OutPoint(i.to_bytes(32, "little"), n)


def coin(v: int, height: int = 10, cb: bool = False) -> Coin:
    return Coin(TxOut(v, b"\x00\x14" + v.to_bytes(20, "little")), height, cb)


class RecordingBase:
    """A base view that records what a flush hands it."""

    def __init__(self, coins=None):
        self.coins = dict(coins or {})
        self.writes: list[dict] = []

    def get_coin(self, outpoint):
        return self.coins.get(outpoint)

    def get_best_block(self):
        return None

    def batch_write(self, entries, best_block, extra=()):
        self.writes.append({k: (v[0], v[1]) for k, v in entries.items() if v[1] & DIRTY})
        for k, (c, flags) in entries.items():
            if flags & DIRTY:
                if c is None:
                    self.coins.pop(k, None)
                else:
                    self.coins[k] = c


@pytest.fixture
def db(tmp_path):
    d = ChainDB(tmp_path / "db")
    yield d
    d.close()


def test_cache_implements_the_consensus_protocol(db):
    assert isinstance(CoinsViewCache(CoinsViewDB(db)), CoinsView)


def test_fresh_coin_spent_before_flush_never_reaches_the_base():
    base = RecordingBase()
    cache = CoinsViewCache(base)
    cache.add_coin(op(1), coin(5), possible_overwrite=False)
    assert cache._cache[op(1)][1] == DIRTY | FRESH
    assert cache.spend_coin(op(1)) == coin(5)
    assert op(1) not in cache._cache
    cache.flush()
    assert base.writes == [{}]


def test_spending_a_base_coin_writes_a_delete(db):
    base = CoinsViewDB(db)
    c1 = CoinsViewCache(base)
    c1.add_coin(op(1), coin(5), possible_overwrite=False)
    c1.set_best_block(b"\x01" * 32)
    c1.flush()
    assert db.get(layout.coin_key(op(1)[0], 0)) is not None
    assert base.get_best_block() == b"\x01" * 32
    c2 = CoinsViewCache(base)
    assert c2.get_coin(op(1)) == coin(5)
    assert c2._cache[op(1)][1] == 0            # fetched: clean, not fresh
    assert c2.spend_coin(op(1)) == coin(5)
    assert c2._cache[op(1)] == [None, DIRTY]   # spent, must reach the disk
    assert c2.get_coin(op(1)) is None and not c2.have_coin(op(1))
    assert base.get_coin(op(1)) == coin(5)     # not yet
    c2.flush()
    assert base.get_coin(op(1)) is None
    assert db.get(layout.coin_key(op(1)[0], 0)) is None


def test_spend_missing_returns_none():
    cache = CoinsViewCache(RecordingBase())
    assert cache.spend_coin(op(9)) is None
    assert cache.get_coin(op(9)) is None and len(cache) == 0


def test_add_over_unspent_without_overwrite_is_a_logic_error():
    cache = CoinsViewCache(RecordingBase())
    cache.add_coin(op(1), coin(5), possible_overwrite=False)
    with pytest.raises(InternalError):
        cache.add_coin(op(1), coin(6), possible_overwrite=False)
    cache.add_coin(op(1), coin(6), possible_overwrite=True)
    assert cache.get_coin(op(1)) == coin(6)


def test_add_with_possible_overwrite_is_not_fresh():
    base = RecordingBase({op(1): coin(5)})
    cache = CoinsViewCache(base)
    cache.add_coin(op(1), coin(7, cb=True), possible_overwrite=True)
    assert cache._cache[op(1)][1] == DIRTY
    cache.spend_coin(op(1))
    cache.flush()
    assert base.writes == [{op(1): (None, DIRTY)}]
    assert op(1) not in base.coins


def test_re_adding_over_a_dirty_spent_entry_is_not_fresh():
    """Spent-and-dirty means the base still has the coin: the re-added one is not FRESH."""
    base = RecordingBase({op(1): coin(5)})
    cache = CoinsViewCache(base)
    cache.spend_coin(op(1))
    cache.add_coin(op(1), coin(8), possible_overwrite=False)
    assert cache._cache[op(1)][1] == DIRTY
    cache.spend_coin(op(1))
    assert cache._cache[op(1)] == [None, DIRTY]


@pytest.mark.parametrize("parent,child,expect", [
    # parent entry (coin, flags) | child entry | parent entry after the child's flush
    (None, (coin(1), DIRTY | FRESH), (coin(1), DIRTY | FRESH)),
    (None, (coin(1), DIRTY), (coin(1), DIRTY)),
    (None, (None, DIRTY | FRESH), None),
    (None, (None, DIRTY), (None, DIRTY)),
    ((coin(2), 0), (coin(1), DIRTY), (coin(1), DIRTY)),
    ((coin(2), DIRTY | FRESH), (None, DIRTY), None),
    ((coin(2), DIRTY | FRESH), (coin(1), DIRTY), (coin(1), DIRTY | FRESH)),
    ((coin(2), DIRTY), (None, DIRTY), (None, DIRTY)),
    ((None, DIRTY), (coin(1), DIRTY | FRESH), (coin(1), DIRTY)),
    ((coin(2), 0), (coin(1), 0), (coin(2), 0)),   # clean child entries are ignored
], ids=["new-fresh", "new-dirty", "new-fresh-spent", "new-spent", "clean-overwritten",
        "fresh-erased", "fresh-kept-fresh", "dirty-spent", "spent-refilled", "clean-child"])
def test_batch_write_rules(parent, child, expect):
    p = CoinsViewCache(RecordingBase())
    if parent is not None:
        p._cache[op(1)] = list(parent)
    c = CoinsViewCache(p)
    c._cache[op(1)] = list(child)
    c.flush()
    assert (tuple(p._cache[op(1)]) if op(1) in p._cache else None) == expect


def test_fresh_child_over_unspent_parent_is_a_logic_error():
    p = CoinsViewCache(RecordingBase())
    p._cache[op(1)] = [coin(2), 0]
    c = CoinsViewCache(p)
    c._cache[op(1)] = [coin(1), DIRTY | FRESH]
    with pytest.raises(InternalError, match="FRESH"):
        c.flush()


def test_memory_usage_and_flush_empties(db):
    cache = CoinsViewCache(CoinsViewDB(db))
    assert cache.memory_usage() == 0
    for i in range(100):
        cache.add_coin(op(i), coin(i + 1), possible_overwrite=False)
    used = cache.memory_usage()
    assert used > 100 * 22
    cache.spend_coin(op(0))
    assert cache.memory_usage() < used
    cache.flush()
    assert cache.memory_usage() == 0 and len(cache) == 0
    assert cache.get_coin(op(5)) == coin(6)      # from disk
    assert cache.memory_usage() > 0


def test_sync_keeps_clean_coins(db):
    base = CoinsViewDB(db)
    cache = CoinsViewCache(base)
    cache.add_coin(op(1), coin(1), possible_overwrite=False)
    cache.add_coin(op(2), coin(2), possible_overwrite=False)
    cache.sync()
    assert cache._cache == {op(1): [coin(1), 0], op(2): [coin(2), 0]}
    cache.spend_coin(op(1))
    cache.sync()
    assert op(1) not in cache._cache and base.get_coin(op(1)) is None
    assert base.get_coin(op(2)) == coin(2)


def test_uncache_drops_only_clean_entries():
    cache = CoinsViewCache(RecordingBase({op(1): coin(1)}))
    cache.get_coin(op(1))
    cache.add_coin(op(2), coin(2), possible_overwrite=False)
    cache.uncache(op(1))
    cache.uncache(op(2))
    assert op(1) not in cache._cache and op(2) in cache._cache


def test_extra_records_go_in_the_same_batch(db):
    base = CoinsViewDB(db)
    cache = CoinsViewCache(base)
    cache.add_coin(op(1), coin(1), possible_overwrite=False)
    cache.set_best_block(b"\x02" * 32)
    cache.flush(extra=[(b"Zx", b"1")])
    assert db.get(b"Zx") == b"1" and base.get_best_block() == b"\x02" * 32
    assert list(base.iter_coins()) == [(op(1), coin(1))]


@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed{s}")
def test_random_operations_match_a_dict_model(db, seed):
    rng = random.Random(seed)
    base = CoinsViewDB(db)
    top = CoinsViewCache(base)
    model: dict[OutPoint, Coin] = {}
    next_value = 1
    for _round in range(30):
        child = top.child()
        child_model = dict(model)
        for _ in range(rng.randrange(1, 40)):
            r = rng.random()
            if r < 0.45 or not child_model:
                o = op(rng.randrange(200), rng.randrange(3))
                c = coin(next_value, rng.randrange(1, 500), rng.random() < 0.2)
                next_value += 1
                overwrite = o in child_model or rng.random() < 0.2
                child.add_coin(o, c, possible_overwrite=overwrite)
                child_model[o] = c
            elif r < 0.85:
                o = rng.choice(sorted(child_model)) if rng.random() < 0.9 else op(999)
                assert child.spend_coin(o) == child_model.pop(o, None)
            else:
                o = op(rng.randrange(200), rng.randrange(3))
                assert child.get_coin(o) == child_model.get(o)
        if rng.random() < 0.2:
            continue  # discarded: a block that failed validation
        child.flush()
        model = child_model
        if rng.random() < 0.3:
            (top.flush if rng.random() < 0.5 else top.sync)()
        for o in rng.sample(sorted(model), min(5, len(model))):
            assert top.get_coin(o) == model[o]
    top.flush()
    assert dict(base.iter_coins()) == model
    assert [o for o, _ in base.iter_coins()] == sorted(model, key=lambda o: (o[0], o[1]))
