"""Peer-to-peer networking: Bitcoin's wire messages carried over WebSockets.

Outline (lowest layer first; connection management and sync are built on these):
- `protocol`: constants as Core names them (PROTOCOL_VERSION 70016, service bits,
  inventory types, the size limits: MAX_INV_SZ, MAX_HEADERS_RESULTS, ...).
- `framing`: the 24-byte header (magic, command, length, checksum);
  `encode_frame(magic, command, payload)`, `decode_frame(magic, data)`. One WebSocket
  binary message carries exactly one P2P message.
- `netaddress`: `NetAddress`, in Bitcoin's v1 form (addr, version) and BIP-0155's v2
  form (addrv2).
- `messages`: one class per message (`MsgVersion`, `MsgInv`, `MsgHeaders`, ...) with
  `command`, `max_payload`, `from_payload`, `to_payload`; `parse_message`,
  `encode_message`, the `MESSAGES` registry.

Above the wire (the network itself; import these modules directly, they are not
re-exported here):
- `peer`: `Peer`, one WebSocket with its send queue, reader, timeouts and per-peer state;
- `banman`: `BanMan`, banned subnets (setban, banlist.json) and discouraged addresses;
- `addrman`: `AddrMan`, the bounded address book (peers.json), new entries capped per
  source group;
- `eviction`: `select_node_to_evict`, which inbound peer makes room for a new one;
- `bloom`: `RollingBloomFilter`, "seen lately" in bounded memory (per-peer known
  inventory and addresses);
- `sync`: `BlockSync`, headers-first download, stall detection, serving and announcing
  blocks (BIP-0130);
- `inbox`: `LoopInbox`, the validation thread's reports to the event loop, many to a
  wake-up;
- `relay`: `TxRelay`, transaction announcement (trickled, BIP-0339 wtxid, BIP-0133
  feefilter), requests, orphans;
- `connman`: `ConnMan`, the node component: listening, dialling, handshake, dispatch,
  misbehaviour. Its error contract: nothing a peer sends raises past the peer's task;
  misbehaviour costs the peer its connection and (unless local or whitelisted) its
  address is discouraged for -bantime.

Error contract: nothing a peer sends raises past these decoders except
- `FrameError(reason, ban_score)` from `decode_frame` (wrong magic, invalid command,
  oversized or mismatched length, bad checksum, a text message): disconnect;
- `coin.serialize.DecodeError` from `from_payload` / `parse_message` (truncated,
  trailing, non-canonical, over a count limit): misbehaviour.
Unknown commands decode to None and are ignored. Encoding our own malformed objects
raises ValueError (a bug of ours).

BIPs: BIP-0031 (ping/pong nonce), BIP-0037 (version relay flag), BIP-0130
(sendheaders), BIP-0133 (feefilter), BIP-0144 (witness inventory types and
serialization), BIP-0152 (sendcmpct, parsed only), BIP-0155 (addrv2, sendaddrv2),
BIP-0339 (wtxidrelay, MSG_WTX).
"""

from coin.p2p.framing import FrameError, decode_frame, encode_frame
from coin.p2p.messages import MESSAGES, InvVector, Message, encode_message, parse_message
from coin.p2p.netaddress import BIP155Network, NetAddress
from coin.p2p.protocol import PROTOCOL_VERSION, InvType, ServiceFlags

__all__ = [
    "FrameError",
    "encode_frame",
    "decode_frame",
    "Message",
    "MESSAGES",
    "InvVector",
    "parse_message",
    "encode_message",
    "NetAddress",
    "BIP155Network",
    "PROTOCOL_VERSION",
    "InvType",
    "ServiceFlags",
]
