"""The P2P protocol's constants, as Bitcoin Core names them.

Protocol version, service bits, inventory types and the size limits every decoder
enforces before it allocates (src/protocol.h, src/net_processing.cpp, src/net.h).
"""

import enum

__all__ = [
    "PROTOCOL_VERSION",
    "MIN_PEER_PROTO_VERSION",
    "MAX_PROTOCOL_MESSAGE_LENGTH",
    "MESSAGE_TYPE_SIZE",
    "MESSAGE_HEADER_SIZE",
    "MAX_INV_SZ",
    "MAX_HEADERS_RESULTS",
    "MAX_ADDR_TO_SEND",
    "MAX_LOCATOR_SZ",
    "MAX_SUBVERSION_LENGTH",
    "MAX_ADDRV2_SIZE",
    "ServiceFlags",
    "NODE_NONE",
    "NODE_NETWORK",
    "NODE_BLOOM",
    "NODE_WITNESS",
    "NODE_COMPACT_FILTERS",
    "NODE_NETWORK_LIMITED",
    "NODE_P2P_V2",
    "InvType",
    "MSG_WITNESS_FLAG",
    "MSG_TX",
    "MSG_BLOCK",
    "MSG_FILTERED_BLOCK",
    "MSG_CMPCT_BLOCK",
    "MSG_WTX",
    "MSG_WITNESS_TX",
    "MSG_WITNESS_BLOCK",
    "MSG_FILTERED_WITNESS_BLOCK",
]

# src/node/protocol_version.h
PROTOCOL_VERSION = 70016          # WTXID_RELAY_VERSION: BIP-0339 wtxidrelay
MIN_PEER_PROTO_VERSION = 31800    # GETHEADERS_VERSION: older peers are disconnected

# src/net.h, src/protocol.h
MAX_PROTOCOL_MESSAGE_LENGTH = 4 * 1000 * 1000  # largest payload a peer may send
MESSAGE_TYPE_SIZE = 12                          # NUL-padded command field
MESSAGE_HEADER_SIZE = 4 + MESSAGE_TYPE_SIZE + 4 + 4

# src/net_processing.cpp, src/net.h, src/netaddress.h
MAX_INV_SZ = 50000                # entries in inv / getdata / notfound
MAX_HEADERS_RESULTS = 2000        # headers in one headers message
MAX_ADDR_TO_SEND = 1000           # addresses in one addr / addrv2 message
MAX_LOCATOR_SZ = 101              # hashes in a getheaders / getblocks locator
MAX_SUBVERSION_LENGTH = 256       # bytes of the version message's user agent
MAX_ADDRV2_SIZE = 512             # bytes of one BIP-0155 address


class ServiceFlags(enum.IntFlag):
    """Service bits advertised in version and addr messages (src/protocol.h)."""

    NODE_NONE = 0
    NODE_NETWORK = 1 << 0
    NODE_BLOOM = 1 << 2
    NODE_WITNESS = 1 << 3
    NODE_COMPACT_FILTERS = 1 << 6
    NODE_NETWORK_LIMITED = 1 << 10
    NODE_P2P_V2 = 1 << 11


NODE_NONE = ServiceFlags.NODE_NONE
NODE_NETWORK = ServiceFlags.NODE_NETWORK
NODE_BLOOM = ServiceFlags.NODE_BLOOM
NODE_WITNESS = ServiceFlags.NODE_WITNESS
NODE_COMPACT_FILTERS = ServiceFlags.NODE_COMPACT_FILTERS
NODE_NETWORK_LIMITED = ServiceFlags.NODE_NETWORK_LIMITED
NODE_P2P_V2 = ServiceFlags.NODE_P2P_V2

MSG_WITNESS_FLAG = 1 << 30


class InvType(enum.IntEnum):
    """Inventory vector types (src/protocol.h GetDataMsg).

    An inv's type is a uint32 on the wire; values not listed here are still carried
    (the peer layer ignores them, as Core does).
    """

    MSG_TX = 1
    MSG_BLOCK = 2
    MSG_FILTERED_BLOCK = 3
    MSG_CMPCT_BLOCK = 4
    MSG_WTX = 5                                               # BIP-0339
    MSG_WITNESS_TX = MSG_TX | MSG_WITNESS_FLAG                # BIP-0144
    MSG_WITNESS_BLOCK = MSG_BLOCK | MSG_WITNESS_FLAG          # BIP-0144
    MSG_FILTERED_WITNESS_BLOCK = MSG_FILTERED_BLOCK | MSG_WITNESS_FLAG


MSG_TX = InvType.MSG_TX
MSG_BLOCK = InvType.MSG_BLOCK
MSG_FILTERED_BLOCK = InvType.MSG_FILTERED_BLOCK
MSG_CMPCT_BLOCK = InvType.MSG_CMPCT_BLOCK
MSG_WTX = InvType.MSG_WTX
MSG_WITNESS_TX = InvType.MSG_WITNESS_TX
MSG_WITNESS_BLOCK = InvType.MSG_WITNESS_BLOCK
MSG_FILTERED_WITNESS_BLOCK = InvType.MSG_FILTERED_WITNESS_BLOCK
