"""coin.p2p.eviction.select_node_to_evict: Core's inbound eviction (protections, then the
youngest of the largest network group)."""

import random

import pytest

from coin.p2p.eviction import EvictionCandidate, select_node_to_evict


def _plain(i: int, group: int, connected: float | None = None, **kw) -> EvictionCandidate:
    return EvictionCandidate(id=i, connected=1000 + i if connected is None else connected, keyed_net_group=group, **kw)


@pytest.mark.parametrize("n", [0, 1, 5, 20])
def test_few_candidates_are_all_protected(n):
    """4 by group + 8 by ping + 4 by transaction + 4 by block = 20 always protected."""
    assert select_node_to_evict([_plain(i, i) for i in range(n)]) is None


def test_largest_group_loses_its_youngest():
    cands = [_plain(i, 1000 + i) for i in range(20)]            # protected by the first rules
    cands += [_plain(100 + i, 7, connected=5000 + i) for i in range(10)]   # one big group
    cands += [_plain(200 + i, 8 + i, connected=6000 + i) for i in range(3)]
    assert select_node_to_evict(cands) == 109


@pytest.mark.parametrize("seed", range(5))
def test_a_flood_from_one_group_never_evicts_honest_peers(seed):
    """Honest peers that relayed blocks and transactions, with measured pings, survive
    an attacker's 100 connections (no pings, no relays) from one network group."""
    rng = random.Random(seed)
    honest = [EvictionCandidate(id=i, connected=rng.uniform(0, 100), min_ping=rng.uniform(0.01, 0.2),
                                last_block_time=rng.choice([0, 500 + i]), last_tx_time=rng.choice([0, 600 + i]),
                                relevant_services=True, keyed_net_group=rng.getrandbits(64))
              for i in range(8)]
    attack_group = rng.getrandbits(64)
    attackers = [EvictionCandidate(id=100 + i, connected=200 + i, keyed_net_group=attack_group)
                 for i in range(100)]
    cands = honest + attackers
    rng.shuffle(cands)
    victim = select_node_to_evict(cands)
    assert victim is not None and victim >= 100


def test_prefer_evict_is_considered_first():
    cands = [_plain(i, 1000 + i) for i in range(20)] + [_plain(100 + i, 500, connected=3000 + i) for i in range(10)]
    cands.append(_plain(50, 900, connected=9000))
    assert select_node_to_evict(cands) == 109          # the largest group's youngest
    cands[-1] = _plain(50, 900, connected=9000, prefer_evict=True)
    assert select_node_to_evict(cands) == 50


def test_lowest_pings_are_protected():
    cands = [_plain(i, 1, connected=5000 + i) for i in range(30)]
    cands[29] = EvictionCandidate(id=29, connected=5029, keyed_net_group=1, min_ping=0.001)
    victim = select_node_to_evict(cands)
    assert victim is not None and victim != 29
