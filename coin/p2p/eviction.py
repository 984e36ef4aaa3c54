"""Which inbound peer to drop when every inbound slot is taken (Core's SelectNodeToEvict,
src/node/eviction.cpp).

When a new inbound connection arrives and the inbound slots are full, Core does not
simply refuse it: an attacker who connected first would then hold every slot for
ever. Instead it looks for one inbound peer to evict, after protecting the peers an
attacker finds hardest to imitate:

1. 4 peers by *keyed network group* (the group hashed with a secret salt, so an
   attacker cannot tell which groups win);
2. the 8 peers with the lowest minimum ping time (needs physical proximity);
3. the 4 that most recently sent us a transaction accepted into our mempool;
4. up to 8 peers not relaying transactions that most recently sent us a new block
   (block-relay-only peers), then the 4 that most recently sent us a new block
   (both need useful work);
5. half of the rest by longest connection, up to a quarter of it for local peers
   first (Core's ProtectEvictionCandidatesByRatio, with localhost standing for the
   disadvantaged networks; Tor, I2P and CJDNS are not distinguished here).

Among those left (only the ones marked `prefer_evict`, if any are), the network group
with the most connections loses its youngest member. If nobody is left, None: the new
connection is refused instead.

`select_node_to_evict(candidates)` is a pure function of the candidates (the
connection manager builds them); nothing here raises for any list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["EvictionCandidate", "select_node_to_evict"]


@dataclass(frozen=True, slots=True)
class EvictionCandidate:
    """What eviction looks at for one inbound peer (Core's NodeEvictionCandidate).

    Times are seconds (any clock, the same for all candidates); 0 means "never".
    `min_ping` is seconds, `math.inf` if never measured.
    """

    id: int
    connected: float
    min_ping: float = math.inf
    last_block_time: float = 0
    last_tx_time: float = 0
    relevant_services: bool = False    # NODE_NETWORK | NODE_WITNESS (can serve us blocks)
    relay_txs: bool = True
    keyed_net_group: int = 0
    prefer_evict: bool = False
    is_local: bool = False


def _erase_last_k(candidates: list, key, k: int, predicate=lambda c: True) -> list:
    """Core's EraseLastKElements: sort ascending by `key`, then drop those of the last
    `k` that satisfy `predicate` (they are protected)."""
    candidates = sorted(candidates, key=key)
    n = min(k, len(candidates))
    if n == 0:
        return candidates
    head, tail = candidates[:len(candidates) - n], candidates[len(candidates) - n:]
    return head + [c for c in tail if not predicate(c)]


def _protect_by_ratio(candidates: list) -> list:
    """Protect half of the candidates: up to a quarter local peers (longest connected
    first), the rest by longest connection (Core's ProtectEvictionCandidatesByRatio)."""
    max_protected = len(candidates) // 2
    if max_protected == 0:
        return candidates
    protected: set[int] = set()
    local = sorted((c for c in candidates if c.is_local), key=lambda c: c.connected)
    for c in local[:max_protected // 2]:
        protected.add(c.id)
    for c in sorted(candidates, key=lambda c: c.connected):
        if len(protected) >= max_protected:
            break
        protected.add(c.id)
    return [c for c in candidates if c.id not in protected]


def select_node_to_evict(candidates: list[EvictionCandidate]) -> int | None:
    """The id of the inbound peer to disconnect for a new one, or None (see the module doc)."""
    c = list(candidates)
    # 1. four by keyed network group (the highest keys)
    c = _erase_last_k(c, lambda n: n.keyed_net_group, 4)
    # 2. eight with the lowest minimum ping (Core's ReverseCompareNodeMinPingTime)
    c = _erase_last_k(c, lambda n: -n.min_ping, 8)
    # 3. four with the most recent novel transaction (CompareNodeTXTime)
    c = _erase_last_k(c, lambda n: (n.last_tx_time, n.relay_txs, -n.connected), 4)
    # 4. up to eight block-relay-only peers with recent blocks (CompareNodeBlockRelayOnlyTime),
    #    then four with the most recent novel block (CompareNodeBlockTime)
    c = _erase_last_k(c, lambda n: (not n.relay_txs, n.last_block_time, n.relevant_services, -n.connected), 8,
                      lambda n: not n.relay_txs and n.relevant_services)
    c = _erase_last_k(c, lambda n: (n.last_block_time, n.relevant_services, -n.connected), 4)
    # 5. half of the rest by uptime (and local peers)
    c = _protect_by_ratio(c)
    if not c:
        return None
    if any(n.prefer_evict for n in c):
        c = [n for n in c if n.prefer_evict]
    # the network group with the most connections (ties: the one whose youngest is
    # youngest) loses its youngest member
    c.sort(key=lambda n: -n.connected)
    groups: dict[int, list[EvictionCandidate]] = {}
    best_group, best_size, best_time = None, 0, -math.inf
    for n in c:
        group = groups.setdefault(n.keyed_net_group, [])
        group.append(n)
        if len(group) > best_size or (len(group) == best_size and group[0].connected > best_time):
            best_group, best_size, best_time = n.keyed_net_group, len(group), group[0].connected
    return groups[best_group][0].id
