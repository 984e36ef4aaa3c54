"""Network addresses as the wire carries them: Bitcoin's v1 form and BIP-0155's v2 form.

v1 (version, addr; Core's CAddress with CNetAddr::V1), big-endian port:

    [time u32, addr only] services u64 | ip 16 bytes (IPv4 as ::ffff:a.b.c.d) | port u16 BE

v2 (addrv2, BIP-0155):

    time u32 | services CompactSize | network id u8 | address var_bytes | port u16 BE

Network ids: 1 IPv4 (4 bytes), 2 IPv6 (16), 4 TorV3 (32-byte ed25519 key), 5 I2P
(32-byte SHA-256), 6 CJDNS (16). As in Core, an address of an unknown network (TorV2,
id 3, included) is skipped rather than refused, and so is an IPv6 address that embeds
IPv4, TorV2 or Core's internal prefix (Core unserializes those as invalid and never
gossips them); a known network with the wrong length, or a length over
MAX_ADDRV2_SIZE, is a DecodeError.
"""

import base64
import enum
import hashlib
import ipaddress
import struct
from dataclasses import dataclass, field

from coin.p2p.protocol import MAX_ADDRV2_SIZE
from coin.serialize import ByteReader, DecodeError, compact_size

__all__ = [
    "BIP155Network",
    "NetAddress",
    "IPV4_IN_IPV6_PREFIX",
    "TORV2_IN_IPV6_PREFIX",
    "INTERNAL_IN_IPV6_PREFIX",
]

IPV4_IN_IPV6_PREFIX = b"\x00" * 10 + b"\xff\xff"
TORV2_IN_IPV6_PREFIX = bytes.fromhex("fd87d87eeb43")
INTERNAL_IN_IPV6_PREFIX = bytes.fromhex("fd6b88c08724")

_PORT = struct.Struct(">H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_TORV3_VERSION = 3


class BIP155Network(enum.IntEnum):
    """BIP-0155 network ids we parse (TorV2, id 3, is obsolete and skipped as Core does)."""

    IPV4 = 1
    IPV6 = 2
    TORV3 = 4
    I2P = 5
    CJDNS = 6


_ADDR_SIZE = {
    BIP155Network.IPV4: 4,
    BIP155Network.IPV6: 16,
    BIP155Network.TORV3: 32,
    BIP155Network.I2P: 32,
    BIP155Network.CJDNS: 16,
}


def _torv3_checksum(pubkey: bytes) -> bytes:
    return hashlib.sha3_256(b".onion checksum" + pubkey + bytes((_TORV3_VERSION,))).digest()[:2]


def _format_host(net: BIP155Network, raw: bytes) -> str:
    if net is BIP155Network.IPV4:
        return ".".join(map(str, raw))  # what str(IPv4Address) gives, faster
    if net is BIP155Network.IPV6 or net is BIP155Network.CJDNS:
        return str(ipaddress.IPv6Address(raw))
    if net is BIP155Network.TORV3:
        body = raw + _torv3_checksum(raw) + bytes((_TORV3_VERSION,))
        return base64.b32encode(body).decode("ascii").lower() + ".onion"
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower() + ".b32.i2p"


def _parse_host(host: str, net: BIP155Network | None) -> tuple[BIP155Network, bytes]:
    """Host text to (network, raw address bytes); ValueError if it is not one."""
    if not isinstance(host, str):
        raise ValueError(f"host must be str, not {type(host).__name__}")
    lower = host.lower()
    if net is None:
        if lower.endswith(".onion"):
            net = BIP155Network.TORV3
        elif lower.endswith(".b32.i2p"):
            net = BIP155Network.I2P
    if net is BIP155Network.TORV3:
        label = lower.removesuffix(".onion")
        if len(label) != 56:
            raise ValueError(f"not a TorV3 address: {host!r}")
        try:
            body = base64.b32decode(label.upper())
        except ValueError:
            raise ValueError(f"not a TorV3 address: {host!r}") from None
        pubkey, check, version = body[:32], body[32:34], body[34]
        if version != _TORV3_VERSION or check != _torv3_checksum(pubkey):
            raise ValueError(f"bad TorV3 checksum or version: {host!r}")
        return net, pubkey
    if net is BIP155Network.I2P:
        label = lower.removesuffix(".b32.i2p")
        if len(label) != 52:
            raise ValueError(f"not an I2P address: {host!r}")
        try:
            raw = base64.b32decode(label.upper() + "====")
        except ValueError:
            raise ValueError(f"not an I2P address: {host!r}") from None
        return net, raw
    ip = ipaddress.ip_address(host)  # ValueError if not an IP literal
    if net is BIP155Network.CJDNS:
        if ip.version != 6:
            raise ValueError(f"CJDNS address must be IPv6: {host!r}")
        return net, ip.packed
    if net is not None and ip.version != (4 if net is BIP155Network.IPV4 else 6):
        raise ValueError(f"{host!r} is not an {net.name} address")
    if ip.version == 6 and ip.ipv4_mapped is not None and net is None:
        return BIP155Network.IPV4, ip.ipv4_mapped.packed
    return (BIP155Network.IPV4 if ip.version == 4 else BIP155Network.IPV6), ip.packed


@dataclass(frozen=True, slots=True)
class NetAddress:
    """A peer address: services, host, port and (in addr messages) the time last seen.

    `host` is text: dotted IPv4, IPv6 (normalised; an IPv4-mapped IPv6 such as
    "::ffff:1.2.3.4" becomes the IPv4 "1.2.3.4"), "<56 chars>.onion" (TorV3) or
    "<52 chars>.b32.i2p". `net` is inferred from the host unless given; CJDNS (IPv6
    text in fc00::/8) must be asked for with `net=BIP155Network.CJDNS`. `time` is the
    uint32 Unix time of addr/addrv2 entries, None inside a version message. Raises
    ValueError for a host, port, services or time out of range.
    """

    services: int
    host: str
    port: int
    time: int | None = None
    net: BIP155Network | None = None
    addr_bytes: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        net, raw = _parse_host(self.host, None if self.net is None else BIP155Network(self.net))
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(f"port {self.port} out of range")
        if not 0 <= self.services < 1 << 64:
            raise ValueError(f"services {self.services} out of range")
        if self.time is not None and not 0 <= self.time <= 0xFFFFFFFF:
            raise ValueError(f"time {self.time} out of range")
        object.__setattr__(self, "net", net)
        object.__setattr__(self, "addr_bytes", raw)
        object.__setattr__(self, "host", _format_host(net, raw))

    @classmethod
    def _from_raw(cls, services: int, net: BIP155Network, raw: bytes, port: int,
                  time: int | None) -> "NetAddress":
        """Build from decoded fields, skipping __post_init__'s host parsing (the raw
        bytes are already the address; the fields are in range by construction)."""
        self = object.__new__(cls)
        setattr_ = object.__setattr__
        setattr_(self, "services", services)
        setattr_(self, "host", _format_host(net, raw))
        setattr_(self, "port", port)
        setattr_(self, "time", time)
        setattr_(self, "net", net)
        setattr_(self, "addr_bytes", raw)
        return self

    # -- v1: version and addr ---------------------------------------------------

    def is_addr_v1_compatible(self) -> bool:
        """Whether the 16-byte v1 form can carry it (IPv4, IPv6, CJDNS)."""
        return self.net in (BIP155Network.IPV4, BIP155Network.IPV6, BIP155Network.CJDNS)

    def ip16(self) -> bytes:
        """The 16-byte v1 address; ValueError for TorV3 and I2P (not v1-compatible)."""
        if self.net is BIP155Network.IPV4:
            return IPV4_IN_IPV6_PREFIX + self.addr_bytes
        if not self.is_addr_v1_compatible():
            raise ValueError(f"{self.net.name} address {self.host} has no v1 encoding")
        return self.addr_bytes

    def to_v1_bytes(self, with_time: bool) -> bytes:
        """v1 encoding: 26 bytes, or 30 with the time (addr messages).

        ValueError if `with_time` and `time` is None, or the address is not v1-compatible.
        """
        head = b""
        if with_time:
            if self.time is None:
                raise ValueError("addr entry needs a time")
            head = _U32.pack(self.time)
        return head + _U64.pack(self.services) + self.ip16() + _PORT.pack(self.port)

    @classmethod
    def read_v1(cls, reader: ByteReader, with_time: bool) -> "NetAddress":
        """Read a v1 address (DecodeError if truncated). IPv4-mapped becomes IPv4."""
        time = reader.read_u32() if with_time else None
        services = reader.read_u64()
        ip = reader.read(16)
        (port,) = _PORT.unpack(reader.read(2))
        if ip.startswith(IPV4_IN_IPV6_PREFIX):
            return cls._from_raw(services, BIP155Network.IPV4, ip[12:], port, time)
        return cls._from_raw(services, BIP155Network.IPV6, ip, port, time)

    # -- v2: addrv2 (BIP-0155) ---------------------------------------------------

    def to_v2_bytes(self) -> bytes:
        """BIP-0155 encoding; ValueError if `time` is None."""
        if self.time is None:
            raise ValueError("addrv2 entry needs a time")
        return b"".join((
            _U32.pack(self.time),
            compact_size(self.services),
            bytes((int(self.net),)),
            compact_size(len(self.addr_bytes)),
            self.addr_bytes,
            _PORT.pack(self.port),
        ))

    @classmethod
    def read_v2(cls, reader: ByteReader) -> "NetAddress | None":
        """Read one BIP-0155 entry; None for one Core would unserialize as invalid.

        DecodeError if truncated, if the services CompactSize is non-canonical, if the
        address length exceeds MAX_ADDRV2_SIZE, or if a known network's address has
        the wrong length (Core's "BIP155 IPv4 address with length ...").
        """
        time = reader.read_u32()
        services = reader.read_compact_size((1 << 64) - 1)
        net_id = reader.read_u8()
        size = reader.read_compact_size(MAX_ADDRV2_SIZE)
        try:
            net = BIP155Network(net_id)
        except ValueError:
            net = None
        if net is not None and size != _ADDR_SIZE[net]:
            raise DecodeError(f"BIP155 {net.name} address with length {size} (should be {_ADDR_SIZE[net]})")
        raw = reader.read(size)
        (port,) = _PORT.unpack(reader.read(2))
        if net is None:
            return None  # unknown network (from the future, or TorV2): skipped
        if net is BIP155Network.IPV6 and raw.startswith(
                (IPV4_IN_IPV6_PREFIX, TORV2_IN_IPV6_PREFIX, INTERNAL_IN_IPV6_PREFIX)):
            return None  # embedded non-IPv6 networks are invalid in v2
        return cls._from_raw(services, net, raw, port, time)
