"""The address book: peers we have heard of, bounded and persisted (Core's AddrMan, simplified).

Each address is a ``host:port`` with its services, the time it was last seen (from
gossip), our own history with it (last try, last success, failed attempts since the
last success) and the host that told us of it (its *source*). Core keeps a "new" and a
"tried" table, bucketed by the source's network group, so that one sender cannot fill
the book (eclipse attacks); this book keeps the same two classes with simpler bounds:

- **tried**: addresses we have completed a handshake with. They are never evicted to
  make room for an address that has never worked.
- **new**: the rest, grouped by the *source group* of the peer that told us (its /16
  for IPv4, /32 for IPv6, Core's GetGroup simplified; the host itself otherwise, and
  "" for addresses we learned ourselves). One source group (but "", the operator's)
  holds at most
  ``max(max_size // SOURCE_GROUP_SHARE, MIN_SOURCE_GROUP_CAP)`` new entries (Core: one
  source group reaches 64 of the 1,024 new buckets, 1/16 of the table): once at its
  cap, a group's next address replaces that group's oldest one, so a flood from one
  sender churns only its own share.
- at most ``max_size`` (default 4096) entries in all. When full, a new address takes
  the place of the worst of EVICTION_SAMPLE new entries drawn at random (terrible
  first, then most failed attempts, then oldest): O(1) whatever the book's size (Core
  evicts the entry at the colliding bucket position, also O(1)). A full book of tried
  addresses refuses new ones.
- addresses with too many failures (``MAX_FAILURES`` since their last success) or
  unseen for ``HORIZON`` seconds are dropped by `cleanup` ("terrible", as Core calls
  them);
- ``select()`` picks at random among the entries not tried in the last
  ``RETRY_AFTER`` seconds, preferring ones that have worked;
- ``get_addr()`` answers getaddr: up to 23% of the book (Core's
  MAX_PCT_ADDR_TO_SEND) but never fewer than 64 (so that a small network's whole
  book travels in one reply), at most MAX_ADDR_TO_SEND, random order;
- persisted as ``<datadir>/peers.json`` (JSON, not Core's binary peers.dat).

Nothing here raises for bad input from peers: `add` ignores what it cannot use.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from coin.p2p.protocol import MAX_ADDR_TO_SEND

__all__ = [
    "AddrInfo",
    "AddrMan",
    "PEERS_FILENAME",
    "MAX_FAILURES",
    "HORIZON",
    "RETRY_AFTER",
    "SOURCE_GROUP_SHARE",
    "MIN_SOURCE_GROUP_CAP",
    "EVICTION_SAMPLE",
    "split_host_port",
    "join_host_port",
    "network_group",
]

log = logging.getLogger("coin.p2p")

PEERS_FILENAME = "peers.json"
DEFAULT_MAX_SIZE = 4096
MAX_FAILURES = 10                 # Core's ADDRMAN_MAX_FAILURES
HORIZON = 30 * 24 * 60 * 60       # Core's ADDRMAN_HORIZON: 30 days unseen = terrible
RETRY_AFTER = 60                  # do not redial an address within a minute
MAX_PCT_ADDR_TO_SEND = 23
SOURCE_GROUP_SHARE = 16           # one source group holds at most 1/16 of the book...
MIN_SOURCE_GROUP_CAP = 64         # ...but at least this many (small books, regtest)
EVICTION_SAMPLE = 8               # new entries looked at to choose one to evict


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` / ``host`` to (host, port). ValueError if malformed."""
    text = text.strip()
    if not text:
        raise ValueError("empty address")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"bad address {text!r}")
        host, rest = text[1:end], text[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad address {text!r}")
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""  # a bare host, or a bare IPv6 address
    if not host:
        raise ValueError(f"bad address {text!r}")
    if port_text:
        if not port_text.isdigit():
            raise ValueError(f"bad port in {text!r}")
        port = int(port_text)
        if not 0 < port <= 0xFFFF:
            raise ValueError(f"port out of range in {text!r}")
    else:
        port = default_port
    return host, port


def join_host_port(host: str, port: int) -> str:
    """(host, port) as Core prints it: ``1.2.3.4:18444``, ``[::1]:18444``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def network_group(host: str) -> str:
    """The group a host belongs to for bucketing (Core's CNetAddr::GetGroup, simplified):
    ``"4:a.b"`` (its /16) for IPv4 (IPv4-mapped IPv6 included), ``"6:<first 4 bytes>"``
    (its /32) for IPv6, the host text itself otherwise (onion, I2P, names), "" for ""."""
    if not host:
        return ""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        a, b = ip.packed[:2]
        return f"4:{a}.{b}"
    return "6:" + ip.packed[:4].hex()


@dataclass
class AddrInfo:
    """One address and what we know of it."""

    host: str
    port: int
    services: int = 0
    time: int = 0               # last seen, as gossiped (Unix time)
    last_try: int = 0
    last_success: int = 0
    attempts: int = 0           # failed attempts since the last success
    source: str = ""

    @property
    def key(self) -> str:
        return join_host_port(self.host, self.port)

    def is_terrible(self, now: float) -> bool:
        """Core's IsTerrible, simplified: tried within the minute is never terrible;
        too many failures, or unseen for HORIZON, is."""
        if self.last_try and now - self.last_try < 60:
            return False
        if self.time and now - self.time > HORIZON and not self.last_success:
            return True
        return self.attempts >= MAX_FAILURES


class AddrMan:
    """A bounded, persisted map of ``host:port`` -> AddrInfo (see the module doc).

    Every update is O(1) (eviction looks at EVICTION_SAMPLE entries); `select`,
    `get_addr` and `cleanup` walk the book and are for dialling and getaddr replies.
    """

    def __init__(self, datadir: str | os.PathLike | None, *, clock: Callable[[], float],
                 max_size: int = DEFAULT_MAX_SIZE, rng: random.Random | None = None):
        self.path = Path(datadir) / PEERS_FILENAME if datadir is not None else None
        self.clock = clock
        self.max_size = max_size
        self.rng = rng or random.Random()
        self.source_group_cap = max(max_size // SOURCE_GROUP_SHARE, MIN_SOURCE_GROUP_CAP)
        self._addrs: dict[str, AddrInfo] = {}
        # new entries: by source group, oldest first; and as a list for O(1) random picks
        self._new_by_group: dict[str, OrderedDict[str, None]] = {}
        self._new_list: list[str] = []
        self._new_pos: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._addrs)

    def __contains__(self, key: str) -> bool:
        return key in self._addrs

    def get(self, key: str) -> AddrInfo | None:
        return self._addrs.get(key)

    def all(self) -> list[AddrInfo]:
        return list(self._addrs.values())

    @property
    def new_count(self) -> int:
        """Addresses that have never worked (Core's nNew)."""
        return len(self._new_list)

    @property
    def tried_count(self) -> int:
        """Addresses we have completed a handshake with (Core's nTried)."""
        return len(self._addrs) - len(self._new_list)

    def source_group_count(self, source: str) -> int:
        """New entries learned from `source`'s group."""
        group = self._new_by_group.get(network_group(source))
        return 0 if group is None else len(group)

    # -- the new table's bookkeeping ---------------------------------------------------

    def _insert(self, info: AddrInfo) -> None:
        key = info.key
        self._addrs[key] = info
        if not info.last_success:
            self._new_by_group.setdefault(network_group(info.source), OrderedDict())[key] = None
            self._new_pos[key] = len(self._new_list)
            self._new_list.append(key)

    def _unlist_new(self, key: str, info: AddrInfo) -> None:
        """Forget `key` as a new entry (it was removed, or it worked)."""
        pos = self._new_pos.pop(key, None)
        if pos is None:
            return
        last = self._new_list.pop()
        if last != key:
            self._new_list[pos] = last
            self._new_pos[last] = pos
        group_name = network_group(info.source)
        group = self._new_by_group.get(group_name)
        if group is not None:
            group.pop(key, None)
            if not group:
                del self._new_by_group[group_name]

    def _delete(self, key: str) -> None:
        info = self._addrs.pop(key, None)
        if info is not None:
            self._unlist_new(key, info)

    # -- persistence -----------------------------------------------------------------

    def load(self) -> None:
        """Read peers.json; a missing or corrupt file gives an empty book (logged)."""
        if self.path is None or not self.path.exists():
            return
        try:
            rows = json.loads(self.path.read_text())["addrs"]
            for row in rows[: self.max_size]:
                info = AddrInfo(**{k: row[k] for k in AddrInfo.__dataclass_fields__ if k in row})
                if isinstance(info.host, str) and isinstance(info.port, int) \
                        and isinstance(info.source, str) and info.key not in self._addrs:
                    self._insert(info)
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("Invalid or corrupt %s, starting with an empty address book: %s", self.path, e)
            self._addrs.clear()
            self._new_by_group.clear()
            self._new_list.clear()
            self._new_pos.clear()

    def save(self) -> None:
        """Write peers.json atomically; errors are logged."""
        if self.path is None:
            return
        tmp = self.path.with_suffix(".json.new")
        try:
            tmp.write_text(json.dumps({"version": 1, "addrs": [asdict(a) for a in self._addrs.values()]}))
            os.replace(tmp, self.path)
        except OSError as e:
            log.warning("Failed to write %s: %s", self.path, e)

    # -- updates -----------------------------------------------------------------------

    def add(self, host: str, port: int, *, services: int = 0, time: int | None = None,
            source: str = "") -> bool:
        """Learn an address (from gossip, a connection, or the operator). True if new.

        A known address gets the newer time and the union of services. A time more
        than ten minutes in the future is taken as now (Core's penalty rule, simplified).
        A new address from a source group at its cap replaces that group's oldest new
        entry; in a full book it replaces a sampled new entry (see the module doc), or
        is dropped if every entry is tried. O(1).
        """
        if not isinstance(host, str) or not host or not isinstance(port, int) or not 0 < port <= 0xFFFF:
            return False
        if not isinstance(source, str):
            source = ""
        now = int(self.clock())
        t = now if time is None or time > now + 600 or time <= 0 else int(time)
        key = join_host_port(host, port)
        info = self._addrs.get(key)
        if info is not None:
            info.time = max(info.time, t)
            info.services |= services
            return False
        group = self._new_by_group.get(network_group(source)) if source else None
        if group is not None and len(group) >= self.source_group_cap:
            oldest = next(iter(group))
            self._delete(oldest)
        elif len(self._addrs) >= self.max_size and not self._make_room(now):
            return False
        self._insert(AddrInfo(host, port, services, t, source=source))
        return True

    def _make_room(self, now: float) -> bool:
        """Evict the worst of EVICTION_SAMPLE random new entries; False if none is new."""
        new = self._new_list
        if not new:
            return False
        worst_key, worst_rank = None, None
        for _ in range(min(EVICTION_SAMPLE, len(new))):
            key = new[self.rng.randrange(len(new))]
            a = self._addrs[key]
            rank = (a.is_terrible(now), a.attempts, -a.time)
            if worst_rank is None or rank > worst_rank:
                worst_key, worst_rank = key, rank
        self._delete(worst_key)
        return True

    def attempt(self, key: str) -> None:
        """We are dialling `key` (Core's Attempt)."""
        info = self._addrs.get(key)
        if info is not None:
            info.last_try = int(self.clock())
            info.attempts += 1

    def good(self, key: str) -> None:
        """A connection to `key` completed its handshake (Core's Good): it moves to tried."""
        info = self._addrs.get(key)
        if info is not None:
            now = int(self.clock())
            info.last_success = info.last_try = info.time = now
            info.attempts = 0
            self._unlist_new(key, info)

    def remove(self, key: str) -> None:
        self._delete(key)

    def cleanup(self) -> None:
        """Drop terrible entries."""
        now = self.clock()
        for key in [k for k, a in self._addrs.items() if a.is_terrible(now)]:
            self._delete(key)

    # -- queries -----------------------------------------------------------------------

    def select(self, exclude: Iterable[str] = ()) -> AddrInfo | None:
        """A random address to dial, not in `exclude` and not tried within RETRY_AFTER
        seconds (two in three picks prefer one that has worked before). None if none."""
        now = self.clock()
        skip = set(exclude)
        candidates = [a for a in self._addrs.values()
                      if a.key not in skip and not (a.last_try and now - a.last_try < RETRY_AFTER)
                      and not a.is_terrible(now)]
        if not candidates:
            return None
        worked = [a for a in candidates if a.last_success]
        if worked and self.rng.random() < 2 / 3:
            return self.rng.choice(worked)
        return self.rng.choice(candidates)

    def get_addr(self, max_addresses: int = MAX_ADDR_TO_SEND, max_pct: int = MAX_PCT_ADDR_TO_SEND) -> list[AddrInfo]:
        """Addresses to answer a getaddr with: random, not terrible, at most `max_pct`
        percent of the book (but up to 64 whatever the percentage) and `max_addresses`."""
        now = self.clock()
        good = [a for a in self._addrs.values() if not a.is_terrible(now)]
        n = min(max_addresses, max(64, len(self._addrs) * max_pct // 100), len(good))
        return self.rng.sample(good, n)
