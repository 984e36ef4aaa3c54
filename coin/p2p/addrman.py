"""The address book: peers we have heard of, bounded and persisted (Core's AddrMan, simplified).

Each address is a ``host:port`` with its services, the time it was last seen (from
gossip), and our own history with it (last try, last success, failed attempts since the
last success). Core buckets addresses into "new" and "tried" tables to resist eclipse
attacks; this book keeps one bounded map instead:

- at most ``max_size`` (default 4096) entries; when full, the worst entry (most failed
  attempts, then oldest) makes room for a new one, and an address that has ever
  worked is never evicted for one that has not;
- addresses with too many failures (``MAX_FAILURES`` since their last success) or
  unseen for ``HORIZON`` seconds are dropped ("terrible", as Core calls them);
- ``select()`` picks at random among the entries not tried in the last
  ``RETRY_AFTER`` seconds, preferring ones that have worked;
- ``get_addr()`` answers getaddr: up to 23% of the book (Core's
  MAX_PCT_ADDR_TO_SEND) but never fewer than 64 (so that a small network's whole
  book travels in one reply), at most MAX_ADDR_TO_SEND, random order;
- persisted as ``<datadir>/peers.json`` (JSON, not Core's binary peers.dat).

Nothing here raises for bad input from peers: `add` ignores what it cannot use.
"""

from __future__ import annotations

import json
import logging
import os
import random
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
    "split_host_port",
    "join_host_port",
]

log = logging.getLogger("coin.p2p")

PEERS_FILENAME = "peers.json"
DEFAULT_MAX_SIZE = 4096
MAX_FAILURES = 10                 # Core's ADDRMAN_MAX_FAILURES
HORIZON = 30 * 24 * 60 * 60       # Core's ADDRMAN_HORIZON: 30 days unseen = terrible
RETRY_AFTER = 60                  # do not redial an address within a minute
MAX_PCT_ADDR_TO_SEND = 23


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
    """A bounded, persisted map of ``host:port`` -> AddrInfo (see the module doc)."""

    def __init__(self, datadir: str | os.PathLike | None, *, clock: Callable[[], float],
                 max_size: int = DEFAULT_MAX_SIZE, rng: random.Random | None = None):
        self.path = Path(datadir) / PEERS_FILENAME if datadir is not None else None
        self.clock = clock
        self.max_size = max_size
        self.rng = rng or random.Random()
        self._addrs: dict[str, AddrInfo] = {}

    def __len__(self) -> int:
        return len(self._addrs)

    def __contains__(self, key: str) -> bool:
        return key in self._addrs

    def get(self, key: str) -> AddrInfo | None:
        return self._addrs.get(key)

    def all(self) -> list[AddrInfo]:
        return list(self._addrs.values())

    # -- persistence -----------------------------------------------------------------

    def load(self) -> None:
        """Read peers.json; a missing or corrupt file gives an empty book (logged)."""
        if self.path is None or not self.path.exists():
            return
        try:
            rows = json.loads(self.path.read_text())["addrs"]
            for row in rows[: self.max_size]:
                info = AddrInfo(**{k: row[k] for k in AddrInfo.__dataclass_fields__ if k in row})
                if isinstance(info.host, str) and isinstance(info.port, int):
                    self._addrs[info.key] = info
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("Invalid or corrupt %s, starting with an empty address book: %s", self.path, e)
            self._addrs.clear()

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
        """
        if not isinstance(host, str) or not host or not isinstance(port, int) or not 0 < port <= 0xFFFF:
            return False
        now = int(self.clock())
        t = now if time is None or time > now + 600 or time <= 0 else int(time)
        key = join_host_port(host, port)
        info = self._addrs.get(key)
        if info is not None:
            info.time = max(info.time, t)
            info.services |= services
            return False
        if len(self._addrs) >= self.max_size and not self._make_room(now):
            return False
        self._addrs[key] = AddrInfo(host, port, services, t, source=source)
        return True

    def _make_room(self, now: float) -> bool:
        terrible = [k for k, a in self._addrs.items() if a.is_terrible(now)]
        if terrible:
            del self._addrs[terrible[0]]
            return True
        never = [a for a in self._addrs.values() if not a.last_success]
        if not never:
            return False
        worst = max(never, key=lambda a: (a.attempts, -a.time))
        del self._addrs[worst.key]
        return True

    def attempt(self, key: str) -> None:
        """We are dialling `key` (Core's Attempt)."""
        info = self._addrs.get(key)
        if info is not None:
            info.last_try = int(self.clock())
            info.attempts += 1

    def good(self, key: str) -> None:
        """A connection to `key` completed its handshake (Core's Good)."""
        info = self._addrs.get(key)
        if info is not None:
            now = int(self.clock())
            info.last_success = info.last_try = info.time = now
            info.attempts = 0

    def remove(self, key: str) -> None:
        self._addrs.pop(key, None)

    def cleanup(self) -> None:
        """Drop terrible entries."""
        now = self.clock()
        for key in [k for k, a in self._addrs.items() if a.is_terrible(now)]:
            del self._addrs[key]

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
