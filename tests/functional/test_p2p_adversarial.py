"""Outside clients against a real coind over WebSockets: an independent implementation
completes the handshake, and garbage costs the sender its connection, never the node.

- python-bitcoinlib's message classes (its own framing, serialization and checksum)
  drive a handshake and a getheaders and decode the node's headers;
- random bytes, a wrong magic, a lying length, a 5 MB frame, a block with a bad merkle
  root, a flood of full inv messages, five inv messages over MAX_INV_SZ (20 each, as
  Core) and a `mempool` request (we offer no NODE_BLOOM) each end the sender's
  connection; the node keeps serving RPC and accepts the next honest peer;
- a version message with fields of a later protocol version is accepted.
"""

import os
import time
from io import BytesIO

import bitcoin
import pytest
from bitcoin.core import CBlockHeader, lx
from bitcoin.core.serialize import VarIntSerializer
from bitcoin.messages import MsgSerializable, msg_getheaders, msg_headers, msg_verack, msg_version
from blockbuilder import BlockBuilder
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from coin.crypto.address import script_to_address
from coin.p2p.framing import encode_frame
from coin.p2p.messages import (
    InvVector,
    MsgBlock,
    MsgInv,
    MsgMempool,
    MsgVerack,
    MsgVersion,
    encode_message,
)
from coin.p2p.protocol import MAX_INV_SZ, MSG_TX
from coin.params import get_params
from coin.primitives import Block
from coin.regtest.framework import wait_until

REGTEST = get_params("regtest")
MAINNET = get_params("main")


def _url(node) -> str:
    return f"ws://{node.p2p_address}/"


def _ws(node):
    return connect(_url(node), max_size=None, compression=None, open_timeout=10, close_timeout=2)


def _closed(ws, timeout: float = 30.0) -> bool:
    """Read until the node closes the connection; False if it is still open after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False
    return False


def _handshake(ws) -> list[str]:
    """Our own version/verack exchange; returns the commands the node sent before verack."""
    ws.send(encode_message(REGTEST.magic, MsgVersion(version=70016, services=9, timestamp=int(time.time()),
                                                      nonce=int.from_bytes(os.urandom(8), "little"),
                                                      user_agent="/test:0/", start_height=0)))
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        data = ws.recv(timeout=20)
        command = data[4:16].rstrip(b"\x00").decode()
        seen.append(command)
        if command == "verack":
            ws.send(encode_message(REGTEST.magic, MsgVerack()))
            return seen
    raise AssertionError(f"no verack; got {seen}")


def _node_is_fine(node) -> None:
    assert node.getblockcount() >= 0
    with _ws(node) as ws:
        _handshake(ws)
        wait_until(lambda: any(p["subver"] == "/test:0/" and p["version"] == 70016 for p in node.getpeerinfo()),
                   20, what="an honest peer after the garbage")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    from coin.regtest.framework import TestNode
    n = TestNode(0, tmp_path_factory.mktemp("adv") / "node0")
    n.start()
    try:
        n.generatetoaddress(3, script_to_address(BlockBuilder().p2wpkh, REGTEST))
        yield n
    finally:
        try:
            n.stop()
        finally:
            n.kill()


def _bitcoinlib_headers(frame: bytes) -> list:
    """A headers message decoded with python-bitcoinlib's serializers. Its msg_headers
    does not read the transaction count that follows each header (so it misreads any
    message with more than one header); here the count is read, and must be 0."""
    assert MsgSerializable.from_bytes(frame) is not None  # magic and checksum checked by bitcoinlib
    f = BytesIO(frame[24:])
    out = []
    for _ in range(VarIntSerializer.stream_deserialize(f)):
        out.append(CBlockHeader.stream_deserialize(f))
        assert VarIntSerializer.stream_deserialize(f) == 0
    assert f.read() == b""
    return out


def test_python_bitcoinlib_client_handshakes_and_receives_headers(node):
    bitcoin.SelectParams("regtest")
    try:
        with _ws(node) as ws:
            version = msg_version(protover=70016)
            version.nStartingHeight = 0
            version.strSubVer = b"/python-bitcoinlib/"
            ws.send(version.to_bytes())
            got_version = got_verack = False
            deadline = time.monotonic() + 20
            while not (got_version and got_verack) and time.monotonic() < deadline:
                msg = MsgSerializable.from_bytes(ws.recv(timeout=20))
                if isinstance(msg, msg_version):
                    got_version = True
                    assert msg.nVersion == 70016
                    assert msg.strSubVer.startswith(b"/coin:")
                    assert msg.nStartingHeight == 3
                    assert msg.nServices & 9 == 9
                elif isinstance(msg, msg_verack):
                    got_verack = True
            assert got_version and got_verack
            ws.send(msg_verack().to_bytes())
            getheaders = msg_getheaders()
            getheaders.locator.vHave = [lx(node.getblockhash(0))]
            ws.send(getheaders.to_bytes())
            deadline = time.monotonic() + 20
            headers = None
            while headers is None and time.monotonic() < deadline:
                frame = ws.recv(timeout=20)
                if frame[4:16].rstrip(b"\x00") == msg_headers.command:
                    headers = _bitcoinlib_headers(frame) or None
            assert headers is not None
            assert [h.GetHash() for h in headers] == [lx(node.getblockhash(i)) for i in (1, 2, 3)]
    finally:
        bitcoin.SelectParams("mainnet")


def test_version_with_future_fields_is_accepted(node):
    """Core reads the version fields it knows and ignores the rest."""
    payload = MsgVersion(version=70016, services=9, timestamp=int(time.time()),
                         nonce=int.from_bytes(os.urandom(8), "little"), user_agent="/future:0/",
                         start_height=0, relay=True).to_payload() + b"\x00\x01future"
    with _ws(node) as ws:
        ws.send(encode_frame(REGTEST.magic, "version", payload))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if ws.recv(timeout=20)[4:16].rstrip(b"\x00") == b"verack":
                break
        ws.send(encode_message(REGTEST.magic, MsgVerack()))
        wait_until(lambda: any(p["subver"] == "/future:0/" for p in node.getpeerinfo()), 20,
                   what="the peer with future version fields")


def _garbage_random(ws):
    ws.send(os.urandom(100))


def _garbage_wrong_magic(ws):
    ws.send(encode_message(MAINNET.magic, MsgVerack()))


def _garbage_lying_length(ws):
    frame = bytearray(encode_frame(REGTEST.magic, "ping", b"\x01" * 8))
    frame[16:20] = (16).to_bytes(4, "little")   # header says 16, payload is 8
    ws.send(bytes(frame))


def _garbage_5mb(ws):
    ws.send(encode_frame(REGTEST.magic, "block", b"\x00" * 1000)[:24] + os.urandom(5 * 1000 * 1000))


def _garbage_invalid_block(ws):
    _handshake(ws)
    builder = BlockBuilder(seed=b"adversarial", time=int(time.time()) - 600)

    def break_merkle(block):
        return Block(block.header.replace(merkle_root_bytes=b"\x11" * 32), block.txs)

    bad = builder.next_block(tweak=break_merkle, refresh=False)  # mined with the bad root
    ws.send(encode_message(REGTEST.magic, MsgBlock(bad)))


def _garbage_inv_flood(ws):
    _handshake(ws)
    for _ in range(12):
        inv = MsgInv(tuple(InvVector(MSG_TX, os.urandom(32)) for _ in range(50_000)))
        ws.send(encode_message(REGTEST.magic, inv))


def _garbage_oversized_inv(ws):
    """Core's Misbehaving(20) per inv over MAX_INV_SZ: the fifth costs the connection."""
    _handshake(ws)
    count = MAX_INV_SZ + 1
    payload = b"\xfd" + count.to_bytes(2, "little") + (MSG_TX.to_bytes(4, "little") + bytes(32)) * count
    for _ in range(5):
        ws.send(encode_frame(REGTEST.magic, "inv", payload))


def _garbage_mempool_request(ws):
    """`mempool` without NODE_BLOOM or the whitelist: Core disconnects (no score)."""
    _handshake(ws)
    ws.send(encode_message(REGTEST.magic, MsgMempool()))


# name -> (send the garbage, what the node logs when it drops the sender)
GARBAGE = {
    "random-bytes": (_garbage_random, "invalid frame from peer="),
    "wrong-magic": (_garbage_wrong_magic, "bad-magic"),
    "lying-length": (_garbage_lying_length, "bad-length"),
    "5MB-frame": (_garbage_5mb, "message larger than the frame limit"),
    "invalid-block": (_garbage_invalid_block, "bad-txnmrklroot"),
    "inv-flood": (_garbage_inv_flood, "inventory flood"),
    "oversized-inv": (_garbage_oversized_inv, f"inv message size = {MAX_INV_SZ + 1}"),
    "mempool-request": (_garbage_mempool_request, "mempool request with bloom filters disabled"),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_costs_the_sender_its_connection(node, name):
    send, logged = GARBAGE[name]
    with node.assert_debug_log([logged, "disconnected peer="], timeout=20), _ws(node) as ws:
        try:
            send(ws)
        except ConnectionClosed:
            pass  # closed while we were still sending: the point made
        assert _closed(ws), f"{name}: the node kept the connection"
    wait_until(lambda: not any(p["subver"] == "/test:0/" for p in node.getpeerinfo()), 20,
               what="the garbage peer to be gone")
    _node_is_fine(node)
    # local peers are disconnected, never discouraged: we can come back
    assert node.listbanned() == []
