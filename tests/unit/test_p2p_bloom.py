"""coin.p2p.bloom.RollingBloomFilter: no false negatives for the last n items, a
false-positive rate close to the target, bounded memory, unpredictable positions."""

import math
import random

import pytest

from coin.p2p.bloom import RollingBloomFilter


def _items(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(32) for _ in range(n)]


def test_core_sizing_for_known_inventory_is_under_a_megabyte():
    f = RollingBloomFilter(50_000, 0.000001)
    assert f.n_hash_funcs == 20                     # Core: round(log(1e-6) / log(0.5))
    assert f.entries_per_generation == 25_000
    # enough cells for 75,000 items at 1e-6 (the optimum is n ln(1/p) / ln(2)^2 bits) ...
    assert f.n_filter_bits >= 75_000 * math.log(1e6) / math.log(2) ** 2
    # ... in two bit planes, well under Core's "< 1 MB" (an OrderedDict of 50,000 hashes: 8.5 MB)
    assert f.memory_bytes == 2 * f.n_filter_bits // 8 < 1_000_000


@pytest.mark.parametrize("n, fp", [(1, 0.5), (10, 0.01), (1000, 0.001), (50_000, 0.000001)],
                         ids=["n1", "n10", "n1000", "n50000-core"])
def test_no_false_negatives_for_the_last_n_items(n, fp):
    rng = random.Random(n)
    f = RollingBloomFilter(n, fp)
    rounds = 2.4 if n >= 50_000 else 5
    items = _items(rng, int(n * rounds) + 3)
    for i, item in enumerate(items):
        f.insert(item)
        if n < 50_000 or i % 997 == 0:
            assert item in f
    assert all(item in f for item in items[-n:])


def test_old_generations_are_forgotten():
    rng = random.Random(7)
    f = RollingBloomFilter(1000, 0.0001)
    old = _items(rng, 500)
    for item in old:
        f.insert(item)
    for item in _items(rng, 1500):                 # three more generations of 500
        f.insert(item)
    remembered = sum(item in f for item in old)
    assert remembered <= 5                          # only false positives left (~1e-4 each)


@pytest.mark.parametrize("fp", [0.01, 0.001], ids=["fp1e-2", "fp1e-3"])
def test_false_positive_rate_close_to_target(fp):
    rng = random.Random(int(1 / fp))
    n = 2000
    f = RollingBloomFilter(n, fp)
    for item in _items(rng, 10 * n):               # rolled many times: the filter at its fullest
        f.insert(item)
    trials = 100_000
    hits = sum(item in f for item in _items(rng, trials))
    rate = hits / trials
    assert fp / 4 < rate < 2 * fp, rate


def test_reset_and_str_items():
    f = RollingBloomFilter(100, 0.001)
    f.add("10.0.0.1:8333")
    assert "10.0.0.1:8333" in f and f.contains(b"10.0.0.1:8333")
    assert "10.0.0.2:8333" not in f
    f.clear()
    assert "10.0.0.1:8333" not in f
    f.reset()
    f.add("10.0.0.3:8333")                          # the (lazy) reset happens here
    assert "10.0.0.3:8333" in f and "10.0.0.1:8333" not in f


def test_positions_depend_on_a_per_filter_salt():
    """Two filters place the same item differently, so a peer cannot craft items that
    collide in every node's filter; a given salt is deterministic."""
    item = bytes(32)
    a, b = RollingBloomFilter(1000, 0.001), RollingBloomFilter(1000, 0.001)
    assert a._positions(item) != b._positions(item)
    s = bytes(range(32))
    assert RollingBloomFilter(1000, 0.001, salt=s)._positions(item) == \
        RollingBloomFilter(1000, 0.001, salt=s)._positions(item)


@pytest.mark.parametrize("args", [(0, 0.1), (10, 0.0), (10, 1.0), (-5, 0.5)])
def test_bad_parameters(args):
    with pytest.raises(ValueError):
        RollingBloomFilter(*args)


def test_bad_items():
    with pytest.raises(TypeError):
        RollingBloomFilter(10, 0.1).insert(12345)
