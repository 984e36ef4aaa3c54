"""Bans and discouragement (Core's BanMan, src/banman.cpp).

Two lists, as Core keeps them:

- **bans**: subnets banned by the operator (RPC ``setban``), each until a time; refused
  inbound and never dialled; persisted in ``<datadir>/banlist.json`` as
  ``{"<subnet>": {"ban_created": t, "banned_until": t}}`` (Core writes banlist.json in
  the same shape, with a version field we also write);
- **discouraged**: single addresses whose peer reached the misbehaviour limit; refused
  inbound and not dialled automatically until ``-bantime`` passes. In memory only and
  bounded (Core uses a rolling bloom filter of 50,000 entries; here an ordered map
  of the same size, oldest dropped first).

Addresses are host text (no port): a ban covers every port of the host. Subnets are
``ipaddress`` networks; a single address is a /32 (or /128) subnet. Errors:
``ValueError`` for text that is not an IP address or subnet.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "BanMan",
    "DEFAULT_MISBEHAVING_BANTIME",
    "MAX_DISCOURAGED",
    "BANLIST_FILENAME",
    "parse_subnet",
    "is_local",
]

log = logging.getLogger("coin.p2p")

DEFAULT_MISBEHAVING_BANTIME = 60 * 60 * 24  # -bantime
MAX_DISCOURAGED = 50_000
BANLIST_FILENAME = "banlist.json"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_subnet(text: str) -> IPNetwork:
    """An IP address or subnet (``1.2.3.4``, ``1.2.3.0/24``, ``1.2.3.0/255.255.255.0``,
    ``::1``, ``[::1]``) as a network. ValueError if it is neither."""
    if not isinstance(text, str) or not text:
        raise ValueError("empty subnet")
    t = text.strip()
    if t.startswith("[") and "]" in t:
        t = t[1:t.index("]")] + t[t.index("]") + 1:]
    net = ipaddress.ip_network(t, strict=False)
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen == 128 and net.network_address.ipv4_mapped:
        net = ipaddress.ip_network(str(net.network_address.ipv4_mapped))
    return net


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_local(host: str) -> bool:
    """Core's CNetAddr::IsLocal: loopback (127/8, ::1) or 0.0.0.0/8; "localhost" too."""
    if host == "localhost":
        return True
    ip = _ip(host)
    if ip is None:
        return False
    if ip.is_loopback:
        return True
    return isinstance(ip, ipaddress.IPv4Address) and ip.packed[0] == 0


def _subnet_text(net: IPNetwork) -> str:
    """Core's CSubNet::ToString: a single address has no /n."""
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


class BanMan:
    """Banned subnets and discouraged addresses of one node.

    ``clock()`` is Unix time (the node's mockable clock); ``datadir`` None keeps the
    ban list in memory only.
    """

    def __init__(self, datadir: str | os.PathLike | None, *, clock: Callable[[], float],
                 default_bantime: int = DEFAULT_MISBEHAVING_BANTIME):
        self.path = Path(datadir) / BANLIST_FILENAME if datadir is not None else None
        self.clock = clock
        self.default_bantime = default_bantime
        self._bans: dict[IPNetwork, tuple[int, int]] = {}     # subnet -> (created, until)
        self._discouraged: OrderedDict[str, int] = OrderedDict()  # host -> until
        self._dirty = False

    # -- persistence -----------------------------------------------------------------

    def load(self) -> None:
        """Read banlist.json; a missing or unreadable file leaves the list empty (logged)."""
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            entries = data.get("banned_nets", data) if isinstance(data, dict) else {}
            for key, value in entries.items():
                if key == "version":
                    continue
                self._bans[parse_subnet(key)] = (int(value["ban_created"]), int(value["banned_until"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            log.warning("Invalid or corrupt %s, ignoring it: %s", self.path, e)
            self._bans.clear()
        self.sweep()

    def save(self) -> None:
        """Write banlist.json atomically (temp file + rename); errors are logged."""
        if self.path is None:
            return
        self.sweep()
        data = {"version": 1, "banned_nets": {
            _subnet_text(net): {"version": 1, "ban_created": created, "banned_until": until}
            for net, (created, until) in self._bans.items()}}
        tmp = self.path.with_suffix(".json.new")
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError as e:
            log.warning("Failed to write %s: %s", self.path, e)

    # -- bans ------------------------------------------------------------------------

    def ban(self, subnet: str | IPNetwork, bantime: int = 0, absolute: bool = False) -> IPNetwork:
        """Ban `subnet` until `bantime` (absolute Unix time) or for `bantime` seconds
        (0: -bantime). Returns the network. ValueError for a bad subnet."""
        net = subnet if isinstance(subnet, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else parse_subnet(subnet)
        now = int(self.clock())
        if absolute:
            until = int(bantime)
        else:
            until = now + (int(bantime) if bantime and int(bantime) > 0 else self.default_bantime)
        self._bans[net] = (now, until)
        self._dirty = True
        self.save()
        return net

    def unban(self, subnet: str | IPNetwork) -> bool:
        """Lift a manual ban; False if `subnet` was not banned."""
        net = subnet if isinstance(subnet, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else parse_subnet(subnet)
        if self._bans.pop(net, None) is None:
            return False
        self.save()
        return True

    def is_banned_subnet(self, subnet: str | IPNetwork) -> bool:
        net = subnet if isinstance(subnet, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else parse_subnet(subnet)
        self.sweep()
        return net in self._bans

    def is_banned(self, host: str) -> bool:
        """True if `host` lies in a banned subnet whose ban has not expired."""
        ip = _ip(host)
        if ip is None:
            return False
        now = self.clock()
        return any(until > now and ip.version == net.version and ip in net
                   for net, (_created, until) in self._bans.items())

    def clear_banned(self) -> None:
        self._bans.clear()
        self._discouraged.clear()
        self.save()

    def sweep(self) -> None:
        """Drop expired bans and discouragements."""
        now = self.clock()
        for net in [n for n, (_c, until) in self._bans.items() if until <= now]:
            del self._bans[net]
            self._dirty = True
        for host in [h for h, until in self._discouraged.items() if until <= now]:
            del self._discouraged[host]

    def list_banned(self) -> list[dict]:
        """Core's listbanned entries: address, ban_created, banned_until, ban_duration,
        time_remaining."""
        self.sweep()
        now = int(self.clock())
        return [{"address": _subnet_text(net), "ban_created": created, "banned_until": until,
                 "ban_duration": until - created, "time_remaining": until - now}
                for net, (created, until) in self._bans.items()]

    # -- discouragement ----------------------------------------------------------------

    def discourage(self, host: str) -> None:
        """Refuse `host` for -bantime seconds (misbehaviour); bounded, oldest dropped."""
        self._discouraged[host] = int(self.clock()) + self.default_bantime
        self._discouraged.move_to_end(host)
        while len(self._discouraged) > MAX_DISCOURAGED:
            self._discouraged.popitem(last=False)

    def is_discouraged(self, host: str) -> bool:
        until = self._discouraged.get(host)
        if until is None:
            return False
        if until <= self.clock():
            del self._discouraged[host]
            return False
        return True
