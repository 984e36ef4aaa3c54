"""coin.p2p.peer timeouts: a peer silent for TIMEOUT_INTERVAL, or whose frame has not
left within SEND_TIMEOUT, is disconnected by the peer's watchdog (no timer per
message); a peer that keeps talking is not."""

import asyncio
import time

import pytest
from websockets.exceptions import ConnectionClosed

import coin.p2p.peer as peer_mod
from coin.p2p.messages import MsgPing
from coin.p2p.peer import ConnectionType, Peer
from coin.params import get_params

MAGIC = get_params("regtest").magic


class FakeWebSocket:
    """recv() yields `incoming` frames `every` seconds, then blocks until close();
    send() blocks until close() when `stuck_send`."""

    def __init__(self, incoming=(), every=0.0, stuck_send=False):
        self.incoming = list(incoming)
        self.every = every
        self.stuck_send = stuck_send
        self.sent = []
        self.closed = asyncio.Event()

    async def recv(self):
        if self.incoming:
            await asyncio.sleep(self.every)
            return self.incoming.pop(0)
        await self.closed.wait()
        raise ConnectionClosed(None, None)

    async def send(self, frame):
        if self.stuck_send:
            await self.closed.wait()
            raise ConnectionClosed(None, None)
        self.sent.append(frame)

    async def close(self):
        self.closed.set()


def _peer(ws) -> Peer:
    return Peer(ws, peer_id=1, host="127.0.0.1", port=1, inbound=True,
                conn_type=ConnectionType.INBOUND, magic=MAGIC, clock=time.time)


async def _run(peer, seconds: float = 5.0) -> list:
    frames = []

    async def on_frame(p, data):
        frames.append(data)

    await asyncio.wait_for(peer.run(on_frame), seconds)
    return frames


@pytest.fixture
def fast_watchdog(monkeypatch):
    monkeypatch.setattr(peer_mod, "WATCHDOG_INTERVAL", 0.02)


def test_silent_peer_is_dropped(fast_watchdog, monkeypatch):
    monkeypatch.setattr(peer_mod, "TIMEOUT_INTERVAL", 0.2)
    peer = _peer(FakeWebSocket())
    asyncio.run(_run(peer))
    assert peer.disconnect_reason == "no message for 0.2 seconds"


def test_talking_peer_is_kept_past_the_timeout(fast_watchdog, monkeypatch):
    monkeypatch.setattr(peer_mod, "TIMEOUT_INTERVAL", 0.2)
    ws = FakeWebSocket(incoming=[b"x"] * 12, every=0.05)  # 0.6 s of traffic
    peer = _peer(ws)
    frames = asyncio.run(_run(peer))
    assert len(frames) == 12  # all of them arrived before the silence ended it
    assert peer.disconnect_reason == "no message for 0.2 seconds"


def test_frame_that_does_not_leave_drops_the_peer(fast_watchdog, monkeypatch):
    monkeypatch.setattr(peer_mod, "SEND_TIMEOUT", 0.2)
    peer = _peer(FakeWebSocket(stuck_send=True))

    async def main():
        peer.send(MsgPing(7))
        await _run(peer)

    asyncio.run(main())
    assert peer.disconnect_reason == "send timeout"


def test_frames_that_leave_keep_the_peer(fast_watchdog, monkeypatch):
    monkeypatch.setattr(peer_mod, "SEND_TIMEOUT", 0.2)
    monkeypatch.setattr(peer_mod, "TIMEOUT_INTERVAL", 0.5)
    ws = FakeWebSocket()
    peer = _peer(ws)

    async def main():
        for i in range(5):
            peer.send(MsgPing(i + 1))
        await _run(peer)

    asyncio.run(main())
    assert len(ws.sent) == 5
    assert peer.disconnect_reason == "no message for 0.5 seconds"
