"""One class per P2P message: its command, its largest payload, strict decode, encode.

Every message class has
- `command` (the header's command string) and `max_payload` (the largest payload
  Core's limits allow for it; a longer one is refused before parsing),
- `from_payload(payload) -> message`: strict through `coin.serialize.ByteReader`
  (truncated data, trailing bytes, non-minimal CompactSize, counts over Core's limit
  raise `DecodeError`, checked before anything is allocated); never raises anything
  but DecodeError,
- `to_payload() -> bytes`, such that `from_payload(m.to_payload()) == m`.

A count over Core's limit (inv over MAX_INV_SZ, headers over MAX_HEADERS_RESULTS, ...)
raises `OversizedCount`, a DecodeError that carries Core's response (Misbehaving(20),
or a disconnect without score for an oversized locator).

`parse_message(command, payload)` looks the command up in `MESSAGES` and decodes;
it returns None for a command we do not know (the peer layer ignores those, as Core
does). `encode_message(magic, message)` is the framed form, ready to send.

Deliberate choices where Core is lenient:
- a `headers` entry whose transaction count is not 0 is a DecodeError (Core reads
  the count and ignores it);
- messages without a payload (verack, getaddr, ...) must have an empty one, and no
  message but `version` may carry trailing bytes (Core reads the version fields it
  knows and ignores the rest: later protocol versions may add fields);
- `version` must carry every field through start_height (Core tolerates a version
  truncated after addr_recv, a form no peer of protocol >= 209 sends); the relay byte
  may be absent (BIP-0037), which decodes as relay=None and re-encodes without it.
Booleans (version's relay, sendcmpct's announce) read as Core's: any non-zero byte is
True, and they re-encode as 1.
BIPs: BIP-0031 (pong), BIP-0037 (relay flag), BIP-0130 (sendheaders), BIP-0133
(feefilter), BIP-0144 (witness inv types), BIP-0152 (sendcmpct, parsed only),
BIP-0155 (addrv2, sendaddrv2), BIP-0339 (wtxidrelay, MSG_WTX).
"""

import struct
from dataclasses import dataclass
from itertools import starmap
from typing import ClassVar, NamedTuple

from coin.p2p.framing import encode_frame
from coin.p2p.netaddress import NetAddress
from coin.p2p.protocol import (
    MAX_ADDR_TO_SEND,
    MAX_ADDRV2_SIZE,
    MAX_HEADERS_RESULTS,
    MAX_INV_SZ,
    MAX_LOCATOR_SZ,
    MAX_PROTOCOL_MESSAGE_LENGTH,
    MAX_SUBVERSION_LENGTH,
    PROTOCOL_VERSION,
)
from coin.primitives import HEADER_SIZE, Block, BlockHeader, Transaction
from coin.serialize import ByteReader, DecodeError, compact_size, hash_to_hex

__all__ = [
    "Message",
    "OversizedCount",
    "InvVector",
    "MsgVersion",
    "MsgVerack",
    "MsgPing",
    "MsgPong",
    "MsgAddr",
    "MsgAddrV2",
    "MsgSendAddrV2",
    "MsgGetAddr",
    "MsgInv",
    "MsgGetData",
    "MsgNotFound",
    "MsgGetHeaders",
    "MsgGetBlocks",
    "MsgHeaders",
    "MsgSendHeaders",
    "MsgBlock",
    "MsgTx",
    "MsgMempool",
    "MsgFeeFilter",
    "MsgWtxidRelay",
    "MsgSendCmpct",
    "MESSAGES",
    "parse_message",
    "encode_message",
]

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_INV = struct.Struct("<I32s")
_NULL_HASH = b"\x00" * 32

_V1_ADDR_SIZE = 8 + 16 + 2        # services, ip, port
_ADDR_ENTRY_SIZE = 4 + _V1_ADDR_SIZE
_ADDRV2_ENTRY_MAX = 4 + 9 + 1 + 3 + MAX_ADDRV2_SIZE + 2
_MAX_COUNT_PREFIX = 3             # CompactSize of any count up to 0xffff
_ANY_COUNT = (1 << 64) - 1        # counts are checked against each message's own limit


class OversizedCount(DecodeError):
    """A message whose entry count exceeds Core's limit for it (inv over MAX_INV_SZ, ...).

    A DecodeError carrying what Core's net_processing does about it: `ban_score` (its
    Misbehaving score: 20 for inv, getdata, addr, addrv2 and headers) and `disconnect`
    (True for a getheaders / getblocks locator over MAX_LOCATOR_SZ, which Core drops
    without a score); a notfound over the limit has neither (Core ignores it).
    `command`, `count` and `limit` say what was refused.
    """

    def __init__(self, command: str, count: int, limit: int, ban_score: int, disconnect: bool):
        super().__init__(f"{command}: {count} entries, limit {limit}")
        self.command = command
        self.count = count
        self.limit = limit
        self.ban_score = ban_score
        self.disconnect = disconnect


def _compact_count(reader: ByteReader, cls: "type[Message]", min_entry: int) -> int:
    """A CompactSize count, refused if over the class's `count_limit` (OversizedCount)
    or more than the data can hold (DecodeError)."""
    n = reader.read_compact_size(_ANY_COUNT)
    limit = cls.count_limit
    if n > limit:
        raise OversizedCount(cls.command, n, limit, cls.oversize_ban_score, cls.oversize_disconnect)
    what = cls.command
    if n * min_entry > reader.remaining:
        raise DecodeError(f"{what}: {n} entries exceed the {reader.remaining} bytes left")
    return n


def _limited(items, limit: int, what: str) -> tuple:
    """`items` as a tuple; ValueError (our bug) if more than a peer would accept."""
    items = tuple(items)
    if len(items) > limit:
        raise ValueError(f"{what}: {len(items)} entries exceed Core's limit of {limit}")
    return items


def _hash32(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValueError(f"{what} must be 32 bytes")
    return value


class Message:
    """Base of every message class: `command`, `max_payload`, decode and encode."""

    __slots__ = ()
    command: ClassVar[str]
    max_payload: ClassVar[int]
    # Messages with a count of entries: its limit, the bytes before it, and what Core
    # does when it is exceeded (see OversizedCount).
    count_limit: ClassVar[int | None] = None
    count_offset: ClassVar[int] = 0
    oversize_ban_score: ClassVar[int] = 20
    oversize_disconnect: ClassVar[bool] = False

    @classmethod
    def from_payload(cls, payload: bytes) -> "Message":
        """Decode a payload strictly; DecodeError for anything malformed or oversized
        (OversizedCount, a DecodeError, when the reason is a count over Core's limit)."""
        if len(payload) > cls.max_payload:
            if cls.count_limit is not None:
                _compact_count(ByteReader(payload[cls.count_offset:cls.count_offset + 9]), cls, 0)
            raise DecodeError(f"{cls.command}: payload of {len(payload)} bytes exceeds {cls.max_payload}")
        reader = ByteReader(payload)
        message = cls._read(reader)
        reader.expect_end()
        return message

    @classmethod
    def _read(cls, reader: ByteReader) -> "Message":
        raise NotImplementedError

    def to_payload(self) -> bytes:
        raise NotImplementedError


# -- messages without a payload -------------------------------------------------


class _Empty(Message):
    __slots__ = ()
    max_payload = 0

    @classmethod
    def _read(cls, reader: ByteReader) -> "Message":
        return cls()

    def to_payload(self) -> bytes:
        return b""

    def __eq__(self, other) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(self.command)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MsgVerack(_Empty):
    """verack: acknowledges the peer's version."""

    __slots__ = ()
    command = "verack"


class MsgGetAddr(_Empty):
    """getaddr: asks for addresses of known peers."""

    __slots__ = ()
    command = "getaddr"


class MsgSendHeaders(_Empty):
    """sendheaders (BIP-0130): announce new blocks with headers rather than inv."""

    __slots__ = ()
    command = "sendheaders"


class MsgMempool(_Empty):
    """mempool: asks for the peer's mempool as inv (BIP-0035)."""

    __slots__ = ()
    command = "mempool"


class MsgWtxidRelay(_Empty):
    """wtxidrelay (BIP-0339): announce transactions by wtxid; sent before verack."""

    __slots__ = ()
    command = "wtxidrelay"


class MsgSendAddrV2(_Empty):
    """sendaddrv2 (BIP-0155): send addresses as addrv2; sent before verack."""

    __slots__ = ()
    command = "sendaddrv2"


# -- handshake and keep-alive ---------------------------------------------------

_NO_ADDRESS = NetAddress(0, "0.0.0.0", 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class MsgVersion(Message):
    """version: the first message each side sends.

    Layout: version i32 | services u64 | timestamp i64 | addr_recv (v1, no time) |
    addr_from (v1, no time) | nonce u64 | user_agent var_str (<= 256 bytes) |
    start_height i32 | relay u8 (optional, BIP-0037) | anything (ignored).
    `user_agent` is text; bytes that are not UTF-8 survive a round trip as surrogate
    escapes. DecodeError for a user agent over MAX_SUBVERSION_LENGTH (Core's "String
    length limit exceeded") and for anything truncated. Bytes after the relay byte
    (fields of a later protocol version) are ignored, as Core ignores them, and do not
    re-encode.
    """

    command: ClassVar[str] = "version"
    max_payload: ClassVar[int] = MAX_PROTOCOL_MESSAGE_LENGTH   # future fields may follow

    version: int = PROTOCOL_VERSION
    services: int = 0
    timestamp: int = 0
    addr_recv: NetAddress = _NO_ADDRESS
    addr_from: NetAddress = _NO_ADDRESS
    nonce: int = 0
    user_agent: str = ""
    start_height: int = 0
    relay: bool | None = True

    def __post_init__(self) -> None:
        if len(self.user_agent.encode("utf-8", "surrogateescape")) > MAX_SUBVERSION_LENGTH:
            raise ValueError(f"user agent longer than {MAX_SUBVERSION_LENGTH} bytes")

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgVersion":
        version = reader.read_i32()
        services = reader.read_u64()
        timestamp = reader.read_i64()
        addr_recv = NetAddress.read_v1(reader, with_time=False)
        addr_from = NetAddress.read_v1(reader, with_time=False)
        nonce = reader.read_u64()
        user_agent = reader.read_var_bytes(MAX_SUBVERSION_LENGTH).decode("utf-8", "surrogateescape")
        start_height = reader.read_i32()
        relay = None if reader.at_end() else reader.read_u8() != 0
        reader.read(reader.remaining)   # fields of later protocol versions: ignored, as Core
        return cls(version=version, services=services, timestamp=timestamp, addr_recv=addr_recv,
                   addr_from=addr_from, nonce=nonce, user_agent=user_agent,
                   start_height=start_height, relay=relay)

    def to_payload(self) -> bytes:
        agent = self.user_agent.encode("utf-8", "surrogateescape")
        parts = [
            _I32.pack(self.version),
            _U64.pack(self.services),
            _I64.pack(self.timestamp),
            self.addr_recv.to_v1_bytes(with_time=False),
            self.addr_from.to_v1_bytes(with_time=False),
            _U64.pack(self.nonce),
            compact_size(len(agent)),
            agent,
            _I32.pack(self.start_height),
        ]
        if self.relay is not None:
            parts.append(b"\x01" if self.relay else b"\x00")
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class MsgPing(Message):
    """ping (BIP-0031): a uint64 nonce the peer echoes in pong."""

    command: ClassVar[str] = "ping"
    max_payload: ClassVar[int] = 8

    nonce: int

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgPing":
        return cls(reader.read_u64())

    def to_payload(self) -> bytes:
        return _U64.pack(self.nonce)


@dataclass(frozen=True, slots=True)
class MsgPong(Message):
    """pong (BIP-0031): echoes a ping's nonce."""

    command: ClassVar[str] = "pong"
    max_payload: ClassVar[int] = 8

    nonce: int

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgPong":
        return cls(reader.read_u64())

    def to_payload(self) -> bytes:
        return _U64.pack(self.nonce)


# -- addresses ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MsgAddr(Message):
    """addr: up to MAX_ADDR_TO_SEND v1 addresses, each with its time (30 bytes each)."""

    command: ClassVar[str] = "addr"
    max_payload: ClassVar[int] = _MAX_COUNT_PREFIX + MAX_ADDR_TO_SEND * _ADDR_ENTRY_SIZE
    count_limit: ClassVar[int] = MAX_ADDR_TO_SEND

    addrs: tuple[NetAddress, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "addrs", _limited(self.addrs, MAX_ADDR_TO_SEND, self.command))

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgAddr":
        n = _compact_count(reader, cls, _ADDR_ENTRY_SIZE)
        return cls(tuple(NetAddress.read_v1(reader, with_time=True) for _ in range(n)))

    def to_payload(self) -> bytes:
        return compact_size(len(self.addrs)) + b"".join(a.to_v1_bytes(with_time=True) for a in self.addrs)


@dataclass(frozen=True, slots=True)
class MsgAddrV2(Message):
    """addrv2 (BIP-0155): up to MAX_ADDR_TO_SEND addresses of any network.

    Entries of networks we do not know (and IPv6 entries embedding other networks) are
    skipped, as Core skips them, so `addrs` may be shorter than the count on the wire.
    """

    command: ClassVar[str] = "addrv2"
    max_payload: ClassVar[int] = _MAX_COUNT_PREFIX + MAX_ADDR_TO_SEND * _ADDRV2_ENTRY_MAX
    count_limit: ClassVar[int] = MAX_ADDR_TO_SEND

    addrs: tuple[NetAddress, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "addrs", _limited(self.addrs, MAX_ADDR_TO_SEND, self.command))

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgAddrV2":
        n = _compact_count(reader, cls, 4 + 1 + 1 + 1 + 2)
        addrs = []
        for _ in range(n):
            addr = NetAddress.read_v2(reader)
            if addr is not None:
                addrs.append(addr)
        return cls(tuple(addrs))

    def to_payload(self) -> bytes:
        return compact_size(len(self.addrs)) + b"".join(a.to_v2_bytes() for a in self.addrs)


# -- inventory ------------------------------------------------------------------


class InvVector(NamedTuple):
    """One inventory entry: a uint32 type (coin.p2p.protocol.InvType) and a raw hash.

    `hash_bytes` is in internal order; `hash` is the display hex.
    """

    type: int
    hash_bytes: bytes

    @property
    def hash(self) -> str:
        return hash_to_hex(self.hash_bytes)

    def to_bytes(self) -> bytes:
        return _INV.pack(self.type, _hash32(self.hash_bytes, "inv hash"))


class _InvMessage(Message):
    """inv / getdata / notfound: up to MAX_INV_SZ InvVectors of 36 bytes."""

    __slots__ = ()
    max_payload: ClassVar[int] = _MAX_COUNT_PREFIX + MAX_INV_SZ * _INV.size
    count_limit: ClassVar[int] = MAX_INV_SZ

    @classmethod
    def _read(cls, reader: ByteReader) -> "_InvMessage":
        n = _compact_count(reader, cls, _INV.size)
        raw = reader.read(n * _INV.size)
        # Decoded entries are well-formed: skip __post_init__'s per-entry check.
        message = object.__new__(cls)
        object.__setattr__(message, "inventory", tuple(map(InvVector._make, _INV.iter_unpack(raw))))
        return message

    def to_payload(self) -> bytes:
        return compact_size(len(self.inventory)) + b"".join(starmap(_INV.pack, self.inventory))

    def __post_init__(self) -> None:
        """Entries become InvVectors; ValueError for a hash that is not 32 bytes."""
        inventory = _limited((v if type(v) is InvVector else InvVector(*v) for v in self.inventory),
                             MAX_INV_SZ, self.command)
        for v in inventory:
            _hash32(v.hash_bytes, "inv hash")
        object.__setattr__(self, "inventory", inventory)


@dataclass(frozen=True, slots=True)
class MsgInv(_InvMessage):
    """inv: announces transactions (MSG_TX / MSG_WTX) and blocks (MSG_BLOCK)."""

    command: ClassVar[str] = "inv"

    inventory: tuple[InvVector, ...] = ()


@dataclass(frozen=True, slots=True)
class MsgGetData(_InvMessage):
    """getdata: requests the objects named (MSG_WITNESS_TX, MSG_WITNESS_BLOCK, ...)."""

    command: ClassVar[str] = "getdata"

    inventory: tuple[InvVector, ...] = ()


@dataclass(frozen=True, slots=True)
class MsgNotFound(_InvMessage):
    """notfound: the getdata entries the peer could not serve (over MAX_INV_SZ: Core
    ignores the message, so OversizedCount carries no score)."""

    command: ClassVar[str] = "notfound"
    oversize_ban_score: ClassVar[int] = 0

    inventory: tuple[InvVector, ...] = ()


# -- headers and blocks ---------------------------------------------------------


class _LocatorMessage(Message):
    """getheaders / getblocks: version i32 | locator (<= MAX_LOCATOR_SZ hashes) | hash_stop.

    `version` is Core's CBlockLocator nVersion: written as the protocol version, read
    and ignored. Hashes are raw 32 bytes in internal order; a null hash_stop means
    "as many as allowed".
    """

    __slots__ = ()
    max_payload: ClassVar[int] = 4 + 1 + MAX_LOCATOR_SZ * 32 + 32
    count_limit: ClassVar[int] = MAX_LOCATOR_SZ
    count_offset: ClassVar[int] = 4
    oversize_ban_score: ClassVar[int] = 0       # Core: disconnect, no score
    oversize_disconnect: ClassVar[bool] = True

    @classmethod
    def _read(cls, reader: ByteReader) -> "_LocatorMessage":
        version = reader.read_i32()
        n = _compact_count(reader, cls, 32)
        locator = tuple(reader.read(32) for _ in range(n))
        return cls(locator, reader.read(32), version)

    def to_payload(self) -> bytes:
        return b"".join((_I32.pack(self.version), compact_size(len(self.locator)),
                         *self.locator, self.hash_stop_bytes))

    def __post_init__(self) -> None:
        locator = _limited((_hash32(h, "locator hash") for h in self.locator), MAX_LOCATOR_SZ, self.command)
        object.__setattr__(self, "locator", locator)
        _hash32(self.hash_stop_bytes, "hash_stop")

    @property
    def hash_stop(self) -> str:
        return hash_to_hex(self.hash_stop_bytes)


@dataclass(frozen=True, slots=True)
class MsgGetHeaders(_LocatorMessage):
    """getheaders: asks for up to MAX_HEADERS_RESULTS headers after the locator's fork point."""

    command: ClassVar[str] = "getheaders"

    locator: tuple[bytes, ...] = ()
    hash_stop_bytes: bytes = _NULL_HASH
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class MsgGetBlocks(_LocatorMessage):
    """getblocks: asks for an inv of up to 500 blocks after the locator's fork point."""

    command: ClassVar[str] = "getblocks"

    locator: tuple[bytes, ...] = ()
    hash_stop_bytes: bytes = _NULL_HASH
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class MsgHeaders(Message):
    """headers: up to MAX_HEADERS_RESULTS block headers, each followed by a tx count of 0.

    DecodeError if a tx count is not 0 (Core ignores it; we refuse it).
    """

    command: ClassVar[str] = "headers"
    max_payload: ClassVar[int] = _MAX_COUNT_PREFIX + MAX_HEADERS_RESULTS * (HEADER_SIZE + 1)
    count_limit: ClassVar[int] = MAX_HEADERS_RESULTS

    headers: tuple[BlockHeader, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _limited(self.headers, MAX_HEADERS_RESULTS, self.command))

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgHeaders":
        n = _compact_count(reader, cls, HEADER_SIZE + 1)
        headers = []
        for _ in range(n):
            headers.append(BlockHeader.read_from(reader))
            if reader.read_compact_size() != 0:
                raise DecodeError("headers: non-zero transaction count")
        return cls(tuple(headers))

    def to_payload(self) -> bytes:
        return compact_size(len(self.headers)) + b"".join(h.to_bytes() + b"\x00" for h in self.headers)


@dataclass(frozen=True, slots=True)
class MsgBlock(Message):
    """block: one block, witness serialization (BIP-0144) when it has witnesses."""

    command: ClassVar[str] = "block"
    max_payload: ClassVar[int] = MAX_PROTOCOL_MESSAGE_LENGTH

    block: Block

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgBlock":
        return cls(Block.read_from(reader))

    def to_payload(self) -> bytes:
        return self.block.to_bytes()


@dataclass(frozen=True, slots=True)
class MsgTx(Message):
    """tx: one transaction, witness serialization (BIP-0144) when it has witnesses."""

    command: ClassVar[str] = "tx"
    max_payload: ClassVar[int] = MAX_PROTOCOL_MESSAGE_LENGTH

    tx: Transaction

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgTx":
        return cls(Transaction.read_from(reader))

    def to_payload(self) -> bytes:
        return self.tx.to_bytes()


# -- relay preferences ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MsgFeeFilter(Message):
    """feefilter (BIP-0133): an int64 fee rate in satoshis per 1000 vbytes."""

    command: ClassVar[str] = "feefilter"
    max_payload: ClassVar[int] = 8

    feerate: int

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgFeeFilter":
        return cls(reader.read_i64())

    def to_payload(self) -> bytes:
        return _I64.pack(self.feerate)


@dataclass(frozen=True, slots=True)
class MsgSendCmpct(Message):
    """sendcmpct (BIP-0152): announce bool | version u64. Parsed; we do not act on it."""

    command: ClassVar[str] = "sendcmpct"
    max_payload: ClassVar[int] = 9

    announce: bool
    version: int

    @classmethod
    def _read(cls, reader: ByteReader) -> "MsgSendCmpct":
        return cls(reader.read_u8() != 0, reader.read_u64())

    def to_payload(self) -> bytes:
        return (b"\x01" if self.announce else b"\x00") + _U64.pack(self.version)


MESSAGES: dict[str, type[Message]] = {
    cls.command: cls
    for cls in (
        MsgVersion, MsgVerack, MsgPing, MsgPong, MsgAddr, MsgAddrV2, MsgSendAddrV2, MsgGetAddr,
        MsgInv, MsgGetData, MsgNotFound, MsgGetHeaders, MsgGetBlocks, MsgHeaders,
        MsgSendHeaders, MsgBlock, MsgTx, MsgMempool, MsgFeeFilter, MsgWtxidRelay, MsgSendCmpct,
    )
}


def parse_message(command: str, payload: bytes) -> Message | None:
    """Decode a payload by its command; None for a command not in MESSAGES.

    Raises DecodeError (and nothing else) when the payload is malformed or oversized.
    """
    cls = MESSAGES.get(command)
    if cls is None:
        return None
    return cls.from_payload(payload)


def encode_message(magic: bytes, message: Message) -> bytes:
    """The message framed with its 24-byte header (see coin.p2p.framing)."""
    return encode_frame(magic, message.command, message.to_payload())
