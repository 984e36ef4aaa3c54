"""coin.p2p.messages and coin.p2p.netaddress: round trips, strict decoding, Core's limits,
and byte-for-byte agreement with python-bitcoinlib's `bitcoin.messages`."""

import base64
import bz2
import hashlib
import io
import ipaddress
import socket
import struct

import bitcoin
import bitcoin.core as blc
import bitcoin.core.serialize as blcs
import bitcoin.messages as blm
import bitcoin.net as bln
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coin.p2p.framing import decode_frame
from coin.p2p.messages import (
    MESSAGES,
    InvVector,
    MsgAddr,
    MsgAddrV2,
    MsgBlock,
    MsgFeeFilter,
    MsgGetAddr,
    MsgGetBlocks,
    MsgGetData,
    MsgGetHeaders,
    MsgHeaders,
    MsgInv,
    MsgMempool,
    MsgNotFound,
    MsgPing,
    MsgPong,
    MsgSendAddrV2,
    MsgSendCmpct,
    MsgSendHeaders,
    MsgTx,
    MsgVerack,
    MsgVersion,
    MsgWtxidRelay,
    OversizedCount,
    encode_message,
    parse_message,
)
from coin.p2p.netaddress import (
    INTERNAL_IN_IPV6_PREFIX,
    IPV4_IN_IPV6_PREFIX,
    TORV2_IN_IPV6_PREFIX,
    BIP155Network,
    NetAddress,
)
from coin.p2p.protocol import (
    MAX_ADDR_TO_SEND,
    MAX_HEADERS_RESULTS,
    MAX_INV_SZ,
    MAX_LOCATOR_SZ,
    MAX_SUBVERSION_LENGTH,
    MSG_BLOCK,
    MSG_FILTERED_BLOCK,
    MSG_TX,
    MSG_WITNESS_BLOCK,
    MSG_WITNESS_TX,
    MSG_WTX,
    PROTOCOL_VERSION,
)
from coin.params import get_params
from coin.primitives import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
from coin.serialize import DecodeError

REGTEST = get_params("regtest")
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies -----------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, (1 << 64) - 1)
i32 = st.integers(-(1 << 31), (1 << 31) - 1)
i64 = st.integers(-(1 << 63), (1 << 63) - 1)
hash32 = st.binary(min_size=32, max_size=32)


def onion_host(pubkey: bytes) -> str:
    """A TorV3 hostname computed here from rend-spec-v3, independently of netaddress.py."""
    check = hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]
    return base64.b32encode(pubkey + check + b"\x03").decode().lower() + ".onion"


def i2p_host(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower() + ".b32.i2p"


ipv4_hosts = st.binary(min_size=4, max_size=4).map(lambda b: str(ipaddress.IPv4Address(b)))
# IPv6 that BIP-0155 would refuse to carry (TorV2 / internal embedded) is left out;
# IPv4-mapped IPv6 stays in: NetAddress turns it into IPv4.
ipv6_hosts = (st.binary(min_size=16, max_size=16)
              .filter(lambda b: not b.startswith((TORV2_IN_IPV6_PREFIX, INTERNAL_IN_IPV6_PREFIX)))
              .map(lambda b: str(ipaddress.IPv6Address(b))))
ip_hosts = st.one_of(ipv4_hosts, ipv6_hosts, st.sampled_from(["127.0.0.1", "::1", "::ffff:10.0.0.1"]))


def v1_addrs(with_time: bool):
    return st.builds(NetAddress, services=u64, host=ip_hosts, port=u16,
                     time=u32 if with_time else st.none())


v2_addrs = st.one_of(
    v1_addrs(with_time=True),
    st.builds(NetAddress, services=u64, host=hash32.map(onion_host), port=u16, time=u32),
    st.builds(NetAddress, services=u64, host=hash32.map(i2p_host), port=u16, time=u32),
    st.builds(NetAddress, services=u64,
              host=st.binary(min_size=15, max_size=15).map(lambda b: str(ipaddress.IPv6Address(b"\xfc" + b))),
              port=u16, time=u32, net=st.just(BIP155Network.CJDNS)),
)

user_agents = (st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
               .filter(lambda s: len(s.encode("utf-8")) <= MAX_SUBVERSION_LENGTH))
inv_types = st.one_of(st.sampled_from([MSG_TX, MSG_BLOCK, MSG_FILTERED_BLOCK, MSG_WTX, MSG_WITNESS_TX,
                                       MSG_WITNESS_BLOCK]), st.integers(0, (1 << 31) - 1))
inventories = st.lists(st.builds(InvVector, inv_types, hash32), max_size=20)

headers = st.builds(BlockHeader, i32, hash32, hash32, u32, u32, u32)
txins = st.builds(TxIn, st.builds(OutPoint, hash32, u32), st.binary(max_size=60), u32,
                  st.lists(st.binary(max_size=40), max_size=3).map(tuple))
txouts = st.builds(TxOut, st.integers(0, (1 << 63) - 1), st.binary(max_size=40))
transactions = st.builds(Transaction, u32, st.lists(txins, min_size=1, max_size=3),
                         st.lists(txouts, max_size=3), u32)
blocks = st.builds(Block, headers, st.lists(transactions, max_size=3))

STRATEGIES = {
    "version": st.builds(
        MsgVersion, version=i32, services=u64, timestamp=i64, addr_recv=v1_addrs(False),
        addr_from=v1_addrs(False), nonce=u64, user_agent=user_agents, start_height=i32,
        relay=st.one_of(st.booleans(), st.none())),
    "verack": st.just(MsgVerack()),
    "ping": st.builds(MsgPing, u64),
    "pong": st.builds(MsgPong, u64),
    "addr": st.builds(MsgAddr, st.lists(v1_addrs(True), max_size=10)),
    "addrv2": st.builds(MsgAddrV2, st.lists(v2_addrs, max_size=10)),
    "sendaddrv2": st.just(MsgSendAddrV2()),
    "getaddr": st.just(MsgGetAddr()),
    "inv": st.builds(MsgInv, inventories),
    "getdata": st.builds(MsgGetData, inventories),
    "notfound": st.builds(MsgNotFound, inventories),
    "getheaders": st.builds(MsgGetHeaders, st.lists(hash32, max_size=MAX_LOCATOR_SZ), hash32, i32),
    "getblocks": st.builds(MsgGetBlocks, st.lists(hash32, max_size=12), hash32, i32),
    "headers": st.builds(MsgHeaders, st.lists(headers, max_size=10)),
    "sendheaders": st.just(MsgSendHeaders()),
    "block": st.builds(MsgBlock, blocks),
    "tx": st.builds(MsgTx, transactions),
    "mempool": st.just(MsgMempool()),
    "feefilter": st.builds(MsgFeeFilter, i64),
    "wtxidrelay": st.just(MsgWtxidRelay()),
    "sendcmpct": st.builds(MsgSendCmpct, st.booleans(), u64),
}


def test_every_message_has_a_strategy_and_its_own_command():
    assert set(STRATEGIES) == set(MESSAGES)
    for command, cls in MESSAGES.items():
        assert cls.command == command
        assert cls.max_payload >= 0


# -- round trips ----------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(MESSAGES))
@FAST
@given(data=st.data())
def test_round_trip(command, data):
    msg = data.draw(STRATEGIES[command])
    payload = msg.to_payload()
    assert len(payload) <= type(msg).max_payload
    decoded = parse_message(command, payload)
    assert type(decoded) is type(msg)
    assert decoded == msg
    assert decoded.to_payload() == payload
    assert decode_frame(REGTEST.magic, encode_message(REGTEST.magic, msg)) == (command, payload)


# -- strict decoding: random and mutated bytes ----------------------------------


def _decode_or_decode_error(command: str, payload: bytes) -> None:
    """Decoding either fails with DecodeError or yields a message that round-trips."""
    try:
        msg = parse_message(command, payload)
    except DecodeError:
        return
    again = parse_message(command, msg.to_payload())
    assert again == msg


@pytest.mark.parametrize("command", sorted(MESSAGES))
@FAST
@given(payload=st.binary(max_size=400))
def test_fuzz_random_payloads(command, payload):
    _decode_or_decode_error(command, payload)


@pytest.mark.parametrize("command", sorted(MESSAGES))
@FAST
@given(data=st.data())
def test_fuzz_mutated_payloads(command, data):
    payload = bytearray(data.draw(STRATEGIES[command]).to_payload())
    action = data.draw(st.sampled_from(["flip", "truncate", "append", "insert"]))
    if action == "flip" and payload:
        payload[data.draw(st.integers(0, len(payload) - 1))] ^= data.draw(st.integers(1, 255))
    elif action == "truncate":
        del payload[data.draw(st.integers(0, len(payload))):]
    elif action == "append":
        payload += data.draw(st.binary(min_size=1, max_size=8))
    else:
        pos = data.draw(st.integers(0, len(payload)))
        payload[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    _decode_or_decode_error(command, bytes(payload))


@pytest.mark.parametrize("command", sorted(MESSAGES))
def test_truncations_and_trailing_bytes_are_refused(command):
    msg = {
        "version": MsgVersion(user_agent="/coin/", addr_recv=NetAddress(1, "1.2.3.4", 8333)),
        "ping": MsgPing(1), "pong": MsgPong(2),
        "addr": MsgAddr([NetAddress(1, "1.2.3.4", 8333, 5)]),
        "addrv2": MsgAddrV2([NetAddress(1, "::1", 8333, 5)]),
        "inv": MsgInv([InvVector(MSG_TX, bytes(32))]),
        "getdata": MsgGetData([InvVector(MSG_WITNESS_BLOCK, bytes(32))]),
        "notfound": MsgNotFound([InvVector(MSG_WTX, bytes(32))]),
        "getheaders": MsgGetHeaders([bytes(32)]), "getblocks": MsgGetBlocks([bytes(32)]),
        "headers": MsgHeaders([REGTEST.genesis.header]),
        "block": MsgBlock(REGTEST.genesis), "tx": MsgTx(REGTEST.genesis.txs[0]),
        "feefilter": MsgFeeFilter(1000), "sendcmpct": MsgSendCmpct(False, 2),
    }.get(command) or MESSAGES[command]()
    payload = msg.to_payload()
    assert parse_message(command, payload) == msg
    for cut in range(len(payload)):
        if command == "version" and cut == len(payload) - 1:
            continue  # the relay byte is optional (BIP-0037)
        with pytest.raises(DecodeError):
            parse_message(command, payload[:cut])
    if command == "version":
        # Core reads the fields it knows and ignores the rest (future fields): accepted
        assert parse_message(command, payload + b"\x00") == msg
        return
    with pytest.raises(DecodeError):
        parse_message(command, payload + b"\x00")


def test_unknown_commands_are_ignored():
    assert parse_message("reject", b"\x00") is None
    assert parse_message("", b"") is None
    assert parse_message("VERSION", b"") is None


# -- Core's limits --------------------------------------------------------------


def _count(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    return b"\xfe" + struct.pack("<I", n)


# Core's net_processing: (Misbehaving score, fDisconnect) for a count over the limit
OVERSIZED_SCORES = {
    "inv": (20, False), "getdata": (20, False), "headers": (20, False),
    "addr": (20, False), "addrv2": (20, False),
    "getheaders": (0, True), "getblocks": (0, True),
    "notfound": (0, False),
}


@pytest.mark.parametrize("command, limit, entry, prefix, suffix", [
    ("inv", MAX_INV_SZ, struct.pack("<I", 1) + bytes(32), b"", b""),
    ("getdata", MAX_INV_SZ, struct.pack("<I", 2) + bytes(32), b"", b""),
    ("notfound", MAX_INV_SZ, struct.pack("<I", 5) + bytes(32), b"", b""),
    ("headers", MAX_HEADERS_RESULTS, bytes(80) + b"\x00", b"", b""),
    ("addr", MAX_ADDR_TO_SEND, bytes(4) + bytes(8) + IPV4_IN_IPV6_PREFIX + bytes(6), b"", b""),
    ("addrv2", MAX_ADDR_TO_SEND, bytes(4) + b"\x00\x01\x04" + bytes(6), b"", b""),
    ("getheaders", MAX_LOCATOR_SZ, bytes(32), struct.pack("<i", PROTOCOL_VERSION), bytes(32)),
    ("getblocks", MAX_LOCATOR_SZ, bytes(32), struct.pack("<i", PROTOCOL_VERSION), bytes(32)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_count_limits(command, limit, entry, prefix, suffix):
    full = prefix + _count(limit) + entry * limit + suffix
    assert len(parse_message(command, full).__getattribute__(
        {"inv": "inventory", "getdata": "inventory", "notfound": "inventory", "headers": "headers",
         "addr": "addrs", "addrv2": "addrs", "getheaders": "locator", "getblocks": "locator"}[command])) == limit
    # One more entry than Core allows, with the data present: refused, with Core's score
    # (Misbehaving(20) for inv, getdata, addr, addrv2 and headers; a disconnect without
    # score for a locator; notfound is ignored).
    score, disconnect = OVERSIZED_SCORES[command]
    with pytest.raises(OversizedCount) as err:
        parse_message(command, prefix + _count(limit + 1) + entry * (limit + 1) + suffix)
    assert (err.value.ban_score, err.value.disconnect, err.value.count, err.value.limit) == \
        (score, disconnect, limit + 1, limit)
    assert isinstance(err.value, DecodeError)
    # An absurd count with no data behind it: refused before anything is allocated.
    for n in (limit + 1, 0xFFFF, 0x01FFFFFF, 0xFFFFFFFF):
        with pytest.raises(OversizedCount):
            parse_message(command, prefix + _count(n) + suffix)
    # A count the data cannot hold, within the limit.
    with pytest.raises(DecodeError):
        parse_message(command, prefix + _count(limit) + entry + suffix)


@pytest.mark.parametrize("command", sorted(MESSAGES))
def test_payload_over_max_payload(command):
    cls = MESSAGES[command]
    with pytest.raises(DecodeError):
        parse_message(command, bytes(cls.max_payload + 1))


@pytest.mark.parametrize("build", [
    lambda: MsgInv([InvVector(MSG_TX, bytes(32))] * (MAX_INV_SZ + 1)),
    lambda: MsgHeaders([REGTEST.genesis.header] * (MAX_HEADERS_RESULTS + 1)),
    lambda: MsgAddr([NetAddress(0, "1.2.3.4", 1, 0)] * (MAX_ADDR_TO_SEND + 1)),
    lambda: MsgAddrV2([NetAddress(0, "1.2.3.4", 1, 0)] * (MAX_ADDR_TO_SEND + 1)),
    lambda: MsgGetHeaders([bytes(32)] * (MAX_LOCATOR_SZ + 1)),
    lambda: MsgGetData([InvVector(MSG_TX, bytes(31))]),
    lambda: MsgGetBlocks([bytes(31)]),
    lambda: MsgGetBlocks([], bytes(33)),
], ids=["inv", "headers", "addr", "addrv2", "locator", "short-inv-hash", "short-locator-hash", "long-stop"])
def test_we_cannot_build_what_peers_refuse(build):
    with pytest.raises(ValueError):
        build()


def test_non_minimal_count_refused():
    with pytest.raises(DecodeError):
        parse_message("inv", b"\xfd\x01\x00" + struct.pack("<I", 1) + bytes(32))


def test_headers_tx_count_must_be_zero():
    header = REGTEST.genesis.header.to_bytes()
    assert parse_message("headers", b"\x01" + header + b"\x00").headers == (REGTEST.genesis.header,)
    with pytest.raises(DecodeError):
        parse_message("headers", b"\x01" + header + b"\x01")


def _version_payload(agent: bytes, relay: bytes = b"\x01") -> bytes:
    addr = bytes(8) + IPV4_IN_IPV6_PREFIX + bytes(6)
    return (struct.pack("<iQq", PROTOCOL_VERSION, 9, 1_700_000_000) + addr + addr + struct.pack("<Q", 42)
            + _count(len(agent)) + agent + struct.pack("<i", 100) + relay)


def test_version_user_agent_limit():
    agent = b"a" * MAX_SUBVERSION_LENGTH
    assert parse_message("version", _version_payload(agent)).user_agent == agent.decode()
    with pytest.raises(DecodeError):
        parse_message("version", _version_payload(agent + b"a"))
    with pytest.raises(ValueError):
        MsgVersion(user_agent="\u00e9" * 129)  # 258 bytes of UTF-8


def test_version_fields_and_relay():
    msg = parse_message("version", _version_payload(b"/Satoshi:27.0.0/"))
    assert (msg.version, msg.services, msg.timestamp, msg.nonce, msg.start_height, msg.relay) == \
        (PROTOCOL_VERSION, 9, 1_700_000_000, 42, 100, True)
    assert msg.addr_recv == NetAddress(0, "0.0.0.0", 0)
    assert msg.user_agent == "/Satoshi:27.0.0/"
    assert parse_message("version", _version_payload(b"", b"\x00")).relay is False
    # Core reads a bool as any non-zero byte.
    assert parse_message("version", _version_payload(b"", b"\x02")).relay is True
    absent = parse_message("version", _version_payload(b"", b""))
    assert absent.relay is None
    assert absent.to_payload() == _version_payload(b"", b"")


@pytest.mark.parametrize("extra", [b"\x00", b"\x01\x02\x03", bytes(4000)], ids=["1", "3", "4000"])
def test_version_future_fields_are_ignored(extra):
    """Core reads the fields it knows (relay included) and ignores whatever follows."""
    msg = parse_message("version", _version_payload(b"/future:1/", b"\x01" + extra))
    assert (msg.user_agent, msg.start_height, msg.relay) == ("/future:1/", 100, True)
    assert msg.to_payload() == _version_payload(b"/future:1/")
    # truncated before the relay byte still fails where a field is cut
    with pytest.raises(DecodeError):
        parse_message("version", _version_payload(b"/x/", b"")[:-1])


def test_version_user_agent_bytes_survive():
    raw = b"/\xff\xfe broken utf-8/"
    msg = parse_message("version", _version_payload(raw))
    assert msg.to_payload() == _version_payload(raw)


# -- NetAddress and BIP-0155 --------------------------------------------------------


def test_ipv4_mapped_ipv6_is_ipv4():
    a = NetAddress(1, "::ffff:10.0.0.1", 8333, 7)
    assert (a.host, a.net) == ("10.0.0.1", BIP155Network.IPV4)
    assert a == NetAddress(1, "10.0.0.1", 8333, 7)
    assert a.ip16() == IPV4_IN_IPV6_PREFIX + bytes([10, 0, 0, 1])
    assert a.to_v1_bytes(with_time=True) == (struct.pack("<IQ", 7, 1) + IPV4_IN_IPV6_PREFIX
                                             + bytes([10, 0, 0, 1]) + b"\x20\x8d")
    assert a.to_v2_bytes() == struct.pack("<I", 7) + b"\x01\x01\x04" + bytes([10, 0, 0, 1]) + b"\x20\x8d"
    v6 = NetAddress(1, "2001:DB8::1", 8333)
    assert (v6.host, v6.net) == ("2001:db8::1", BIP155Network.IPV6)


def test_port_is_big_endian():
    payload = MsgAddr([NetAddress(0, "1.2.3.4", 0x1234, 0)]).to_payload()
    assert payload.endswith(b"\x12\x34")


def test_torv3_and_i2p():
    pubkey = hashlib.sha256(b"coin").digest()
    tor = NetAddress(0, onion_host(pubkey), 9050, 1)
    assert tor.net is BIP155Network.TORV3 and tor.addr_bytes == pubkey
    assert not tor.is_addr_v1_compatible()
    with pytest.raises(ValueError):
        tor.to_v1_bytes(with_time=True)
    bad = onion_host(pubkey)[:50] + ("a" if onion_host(pubkey)[50] != "a" else "b") + onion_host(pubkey)[51:]
    with pytest.raises(ValueError):
        NetAddress(0, bad, 9050, 1)
    i2p = NetAddress(0, i2p_host(pubkey), 0, 1)
    assert i2p.net is BIP155Network.I2P and i2p.addr_bytes == pubkey
    msg = MsgAddrV2([tor, i2p])
    assert parse_message("addrv2", msg.to_payload()) == msg


def test_cjdns_needs_explicit_network():
    a = NetAddress(0, "fc00::1", 1, 1, net=BIP155Network.CJDNS)
    assert a.net is BIP155Network.CJDNS and a.is_addr_v1_compatible()
    assert NetAddress(0, "fc00::1", 1, 1).net is BIP155Network.IPV6
    assert a.to_v2_bytes()[5:7] == b"\x06\x10"


@pytest.mark.parametrize("host", ["", "example.com", "1.2.3", "abc.onion", "zz.b32.i2p", "1.2.3.4.5"])
def test_bad_hosts(host):
    with pytest.raises(ValueError):
        NetAddress(0, host, 1)


@pytest.mark.parametrize("kwargs", [dict(port=65536), dict(port=-1), dict(services=1 << 64), dict(time=1 << 32)])
def test_out_of_range_fields(kwargs):
    with pytest.raises(ValueError):
        NetAddress(**{"services": 0, "host": "1.2.3.4", "port": 1, **kwargs})


def _v2_entry(net_id: int, addr: bytes, port: int = 8333, services: bytes = b"\x01") -> bytes:
    return struct.pack("<I", 5) + services + bytes([net_id]) + _count(len(addr)) + addr + struct.pack(">H", port)


def test_addrv2_skips_unknown_networks_as_core():
    known = _v2_entry(1, bytes([1, 2, 3, 4]))
    payload = b"\x06" + b"".join((
        _v2_entry(3, bytes(10)),                                     # TorV2: obsolete
        _v2_entry(7, b"\xaa" * 20),                                  # from the future
        _v2_entry(250, b""),                                         # empty, unknown
        _v2_entry(2, IPV4_IN_IPV6_PREFIX + bytes([1, 2, 3, 4])),     # IPv4 inside IPv6
        _v2_entry(2, TORV2_IN_IPV6_PREFIX + bytes(10)),              # TorV2 inside IPv6
        known,
    ))
    msg = parse_message("addrv2", payload)
    assert msg.addrs == (NetAddress(1, "1.2.3.4", 8333, 5),)


@pytest.mark.parametrize("net_id, size", [(1, 3), (1, 16), (2, 4), (4, 33), (5, 31), (6, 4)])
def test_addrv2_known_network_wrong_length(net_id, size):
    with pytest.raises(DecodeError):
        parse_message("addrv2", b"\x01" + _v2_entry(net_id, bytes(size)))


def test_addrv2_address_size_limit():
    assert parse_message("addrv2", b"\x01" + _v2_entry(99, bytes(512))).addrs == ()
    with pytest.raises(DecodeError):
        parse_message("addrv2", b"\x01" + _v2_entry(99, bytes(513)))


def test_addrv2_services_are_a_compact_size():
    big = b"\xff" + struct.pack("<Q", 1 << 40 | 9)
    msg = parse_message("addrv2", b"\x01" + _v2_entry(1, bytes(4), services=big))
    assert msg.addrs[0].services == 1 << 40 | 9
    with pytest.raises(DecodeError):  # non-minimal
        parse_message("addrv2", b"\x01" + _v2_entry(1, bytes(4), services=b"\xfd\x01\x00"))


# -- agreement with python-bitcoinlib -----------------------------------------------


def _their_payload(msg) -> bytes:
    f = io.BytesIO()
    msg.msg_ser(f)
    return f.getvalue()


def _their_addr(a: NetAddress, with_time: bool) -> bln.CAddress:
    c = bln.CAddress()
    c.nServices = a.services
    c.ip = a.host
    c.port = a.port
    if with_time:
        c.nTime = a.time
    return c


def _same_addr(theirs: bln.CAddress, ours: NetAddress, with_time: bool) -> bool:
    family = socket.AF_INET6 if ":" in theirs.ip else socket.AF_INET
    return (socket.inet_pton(family, theirs.ip) == ours.addr_bytes and theirs.port == ours.port
            and theirs.nServices == ours.services and (not with_time or theirs.nTime == ours.time))


def _their_tx(tx: Transaction) -> blc.CTransaction:
    vin = [blc.CTxIn(blc.COutPoint(i.prevout.txid_bytes, i.prevout.index), blc.CScript(i.script_sig), i.sequence)
           for i in tx.inputs]
    vout = [blc.CTxOut(o.value, blc.CScript(o.script_pubkey)) for o in tx.outputs]
    wit = blc.CTxWitness([blc.CTxInWitness(blc.CScriptWitness(list(i.witness))) for i in tx.inputs])
    version = tx.version - (1 << 32) if tx.version >= 1 << 31 else tx.version
    return blc.CTransaction(vin, vout, tx.lock_time, version, wit)


def _their_block(header: BlockHeader, txs=()) -> blc.CBlock:
    return blc.CBlock(header.version, header.prev_hash_bytes, header.merkle_root_bytes, header.time,
                      header.bits, header.nonce, [_their_tx(t) for t in txs])


@pytest.fixture
def bitcoinlib_regtest():
    bitcoin.SelectParams("regtest")
    yield
    bitcoin.SelectParams("mainnet")


@FAST
@given(version=st.integers(70001, (1 << 31) - 1), services=u64, timestamp=i64, addr_recv=v1_addrs(False),
       addr_from=v1_addrs(False), nonce=u64, agent=st.binary(max_size=MAX_SUBVERSION_LENGTH),
       height=i32, relay=st.booleans())
def test_bitcoinlib_version(version, services, timestamp, addr_recv, addr_from, nonce, agent, height, relay):
    theirs = blm.msg_version()
    theirs.nVersion, theirs.nServices, theirs.nTime, theirs.nNonce = version, services, timestamp, nonce
    theirs.addrTo, theirs.addrFrom = _their_addr(addr_recv, False), _their_addr(addr_from, False)
    theirs.strSubVer, theirs.nStartingHeight, theirs.fRelay = agent, height, relay
    ours = MsgVersion(version=version, services=services, timestamp=timestamp, addr_recv=addr_recv,
                      addr_from=addr_from, nonce=nonce, user_agent=agent.decode("utf-8", "surrogateescape"),
                      start_height=height, relay=relay)
    payload = _their_payload(theirs)
    assert ours.to_payload() == payload
    assert MsgVersion.from_payload(payload) == ours
    back = blm.msg_version.msg_deser(io.BytesIO(ours.to_payload()))
    assert (back.nVersion, back.nServices, back.nTime, back.nNonce, back.strSubVer, back.nStartingHeight,
            bool(back.fRelay)) == (version, services, timestamp, nonce, agent, height, relay)
    assert _same_addr(back.addrTo, addr_recv, False) and _same_addr(back.addrFrom, addr_from, False)


@pytest.mark.parametrize("ours, theirs", [
    (MsgVerack(), blm.msg_verack()),
    (MsgGetAddr(), blm.msg_getaddr()),
    (MsgMempool(), blm.msg_mempool()),
], ids=["verack", "getaddr", "mempool"])
def test_bitcoinlib_empty_messages(bitcoinlib_regtest, ours, theirs):
    assert ours.command.encode() == theirs.command
    assert ours.to_payload() == _their_payload(theirs) == b""
    assert encode_message(REGTEST.magic, ours) == theirs.to_bytes()


@FAST
@given(nonce=u64)
def test_bitcoinlib_ping_pong(nonce):
    assert MsgPing(nonce).to_payload() == _their_payload(blm.msg_ping(nonce=nonce))
    assert MsgPong(nonce).to_payload() == _their_payload(blm.msg_pong(nonce=nonce))
    assert MsgPong.from_payload(_their_payload(blm.msg_pong(nonce=nonce))).nonce == nonce


@FAST
@given(addrs=st.lists(v1_addrs(True), max_size=8))
def test_bitcoinlib_addr(addrs):
    theirs = blm.msg_addr()
    theirs.addrs = [_their_addr(a, True) for a in addrs]
    payload = _their_payload(theirs)
    assert MsgAddr(addrs).to_payload() == payload
    assert MsgAddr.from_payload(payload) == MsgAddr(addrs)
    back = blm.msg_addr.msg_deser(io.BytesIO(payload))
    assert all(_same_addr(t, o, True) for t, o in zip(back.addrs, addrs, strict=True))


@pytest.mark.parametrize("ours_cls, theirs_cls", [
    (MsgInv, blm.msg_inv), (MsgGetData, blm.msg_getdata), (MsgNotFound, blm.msg_notfound),
], ids=["inv", "getdata", "notfound"])
@FAST
@given(inventory=inventories)
def test_bitcoinlib_inventory(ours_cls, theirs_cls, inventory):
    theirs = theirs_cls()
    for inv_type, hash_bytes in inventory:
        c = bln.CInv()
        c.type, c.hash = int(inv_type), hash_bytes
        theirs.inv.append(c)
    payload = _their_payload(theirs)
    assert ours_cls(inventory).to_payload() == payload
    assert ours_cls.from_payload(payload).inventory == tuple(inventory)
    back = theirs_cls.msg_deser(io.BytesIO(payload))
    assert [(c.type, c.hash) for c in back.inv] == [tuple(v) for v in inventory]


@pytest.mark.parametrize("ours_cls, theirs_cls", [
    (MsgGetHeaders, blm.msg_getheaders), (MsgGetBlocks, blm.msg_getblocks),
], ids=["getheaders", "getblocks"])
@FAST
@given(locator=st.lists(hash32, max_size=MAX_LOCATOR_SZ), stop=hash32, version=i32)
def test_bitcoinlib_locators(ours_cls, theirs_cls, locator, stop, version):
    theirs = theirs_cls()
    theirs.locator.nVersion, theirs.locator.vHave, theirs.hashstop = version, list(locator), stop
    payload = _their_payload(theirs)
    ours = ours_cls(locator, stop, version)
    assert ours.to_payload() == payload
    assert ours_cls.from_payload(payload) == ours
    back = theirs_cls.msg_deser(io.BytesIO(payload))
    assert (back.locator.nVersion, back.locator.vHave, back.hashstop) == (version, list(locator), stop)


def _their_headers_payload(blocks: list[blc.CBlock]) -> bytes:
    """Core's headers payload through python-bitcoinlib's serializers.

    Its msg_headers cannot be the oracle here: it serializes every entry as a bare
    CBlockHeader (80 bytes, no transaction count), which Core would not parse. A
    vector of CBlocks without transactions is Core's form: header, then a count of 0.
    """
    f = io.BytesIO()
    blcs.VectorSerializer.stream_serialize(blc.CBlock, blocks, f)
    return f.getvalue()


@FAST
@given(hdrs=st.lists(headers, max_size=8))
def test_bitcoinlib_headers(hdrs):
    theirs = [_their_block(h) for h in hdrs]
    payload = _their_headers_payload(theirs)
    assert MsgHeaders(hdrs).to_payload() == payload
    assert MsgHeaders.from_payload(payload).headers == tuple(hdrs)
    back = blcs.VectorSerializer.stream_deserialize(blc.CBlock, io.BytesIO(MsgHeaders(hdrs).to_payload()))
    assert [b.GetHash() for b in back] == [h.hash_bytes for h in hdrs]
    assert all(not b.vtx for b in back)


@FAST
@given(tx=transactions)
def test_bitcoinlib_tx(tx):
    theirs = blm.msg_tx()
    theirs.tx = _their_tx(tx)
    payload = _their_payload(theirs)
    assert MsgTx(tx).to_payload() == payload
    assert MsgTx.from_payload(payload).tx == tx
    back = blm.msg_tx.msg_deser(io.BytesIO(payload))
    assert back.tx.GetTxid() == tx.txid_bytes
    assert back.tx.serialize() == payload


@FAST
@given(header=headers, txs=st.lists(transactions, max_size=3))
def test_bitcoinlib_block(header, txs):
    if txs:  # python-bitcoinlib refuses a CBlock whose merkle root does not match its txs
        header = header.replace(merkle_root_bytes=Block(header, txs).compute_merkle_root()[0])
    theirs = blm.msg_block()
    theirs.block = _their_block(header, txs)
    payload = _their_payload(theirs)
    assert MsgBlock(Block(header, txs)).to_payload() == payload
    assert MsgBlock.from_payload(payload).block == Block(header, txs)


def _read_blk(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        assert data[pos:pos + 4] == bytes.fromhex("f9beb4d9")
        (n,) = struct.unpack_from("<I", data, pos + 4)
        out.append(data[pos + 8:pos + 8 + n])
        pos += 8 + n
    return out


def _real_blocks(vectors_dir) -> list[bytes]:
    raws = _read_blk(bz2.decompress((vectors_dir / "blocks/mainnet-blocks-1-255.blk.bz2").read_bytes()))
    raws += _read_blk(bz2.decompress((vectors_dir / "blocks/mainnet-block-277647.blk.bz2").read_bytes()))
    segwit = sorted((vectors_dir / "blocks").glob("mainnet-block-*.bin"), key=lambda p: p.stat().st_size)[0]
    return raws + [segwit.read_bytes()]


def test_bitcoinlib_real_blocks_and_txs(vectors_dir, bitcoinlib_regtest):
    """Real mainnet blocks (legacy and SegWit) frame, parse and serialize as bitcoinlib does."""
    raws = _real_blocks(vectors_dir)
    assert any(Block.from_bytes(raws[-1]).txs[i].has_witness() for i in range(5))
    for raw in raws:
        theirs = blm.msg_block()
        theirs.block = blc.CBlock.deserialize(raw)
        ours = parse_message("block", raw)
        assert ours.to_payload() == _their_payload(theirs) == raw
        assert encode_message(REGTEST.magic, ours) == theirs.to_bytes()
        assert MsgHeaders([ours.block.header]).to_payload() == _their_headers_payload([_header_only(theirs.block)])
    for tx in Block.from_bytes(raws[-1]).txs[:50]:
        their_tx = blm.msg_tx()
        their_tx.tx = blc.CTransaction.deserialize(tx.to_bytes())
        assert encode_message(REGTEST.magic, MsgTx(tx)) == their_tx.to_bytes()
        inv = blm.msg_inv()
        c = bln.CInv()
        c.type, c.hash = int(MSG_TX), their_tx.tx.GetTxid()
        inv.inv.append(c)
        assert encode_message(REGTEST.magic, MsgInv([InvVector(MSG_TX, tx.txid_bytes)])) == inv.to_bytes()


def _header_only(block: blc.CBlock) -> blc.CBlock:
    return blc.CBlock(block.nVersion, block.hashPrevBlock, block.hashMerkleRoot, block.nTime,
                      block.nBits, block.nNonce)


def test_bitcoinlib_frames_parse_through_ours(bitcoinlib_regtest):
    """Whole frames produced by python-bitcoinlib decode through decode_frame + parse_message."""
    ping = blm.msg_ping(nonce=0xDEADBEEF)
    version = blm.msg_version()
    version.strSubVer = b"/python-bitcoinlib/"
    version.addrTo.ip, version.addrTo.port = "10.1.2.3", 18444
    for theirs in (ping, version, blm.msg_verack(), blm.msg_getaddr()):
        command, payload = decode_frame(REGTEST.magic, theirs.to_bytes())
        ours = parse_message(command, payload)
        assert type(ours) is MESSAGES[theirs.command.decode()]
        assert ours.to_payload() == payload
    assert parse_message(*decode_frame(REGTEST.magic, ping.to_bytes())).nonce == 0xDEADBEEF
    v = parse_message(*decode_frame(REGTEST.magic, version.to_bytes()))
    assert v.addr_recv.host == "10.1.2.3" and v.addr_recv.port == 18444 and v.user_agent == "/python-bitcoinlib/"
