"""The ``network`` RPC group: Bitcoin Core's peer and connection methods.

Methods: getconnectioncount, getpeerinfo, getnetworkinfo, getnettotals, addnode,
disconnectnode, getaddednodeinfo, getnodeaddresses, setban, listbanned, clearbanned,
setnetworkactive, ping.

They read and steer ``ctx.node.connman`` (coin.p2p.connman.ConnMan); without one every
method fails with -31 ``Error: Peer-to-peer functionality missing or disabled``, as
Core. Errors are Core's: addnode -23 ``Error: Node already added``, -24 ``Error: Node
could not be removed. It has not been added previously.``; disconnectnode -32602
``Only one of address and nodeid should be provided.``, -29 ``Node not found in
connected nodes``; getaddednodeinfo -24 ``Error: Node has not been added.``; setban
-30 ``Error: Invalid IP/Subnet``, -23 ``Error: IP/Subnet already banned``, -30
``Error: Unban failed. Requested address/subnet was not previously manually banned.``
"""

from __future__ import annotations

import time
from typing import Any

import coin
from coin.p2p.banman import parse_subnet
from coin.p2p.protocol import PROTOCOL_VERSION, ServiceFlags
from coin.rpc.errors import (
    RPC_CLIENT_INVALID_IP_OR_SUBNET,
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_CLIENT_NODE_NOT_CONNECTED,
    RPC_CLIENT_P2P_DISABLED,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_PARAMS,
    RPC_MISC_ERROR,
    RPCError,
)
from coin.rpc.table import Param, RPCContext, rpc_method
from coin.rpc.util import help_example_cli, help_example_rpc, value_from_amount

__all__ = [
    "CLIENT_VERSION",
    "addnode",
    "clearbanned",
    "disconnectnode",
    "getaddednodeinfo",
    "getconnectioncount",
    "getnettotals",
    "getnetworkinfo",
    "getnodeaddresses",
    "getpeerinfo",
    "listbanned",
    "ping",
    "setban",
    "setnetworkactive",
    "services_names",
]

#: getnetworkinfo's "version": the Core release whose field set we emulate (28.0.0).
CLIENT_VERSION = 280000

_SERVICE_NAMES = [
    (ServiceFlags.NODE_NETWORK, "NETWORK"),
    (ServiceFlags.NODE_BLOOM, "BLOOM"),
    (ServiceFlags.NODE_WITNESS, "WITNESS"),
    (ServiceFlags.NODE_COMPACT_FILTERS, "COMPACT_FILTERS"),
    (ServiceFlags.NODE_NETWORK_LIMITED, "NETWORK_LIMITED"),
    (ServiceFlags.NODE_P2P_V2, "P2P_V2"),
]


def services_names(services: int) -> list[str]:
    """Core's GetServicesNames: known bit names, "UNKNOWN[2^n]" for the rest."""
    out = []
    for bit in range(64):
        flag = 1 << bit
        if not services & flag:
            continue
        name = next((n for f, n in _SERVICE_NAMES if int(f) == flag), None)
        out.append(name if name is not None else f"UNKNOWN[2^{bit}]")
    return out


def _connman(ctx: RPCContext):
    cm = getattr(ctx.node, "connman", None)
    if cm is None:
        raise RPCError(RPC_CLIENT_P2P_DISABLED, "Error: Peer-to-peer functionality missing or disabled")
    return cm


def _network_of(host: str) -> str:
    if host.endswith(".onion"):
        return "onion"
    if host.endswith(".i2p"):
        return "i2p"
    if ":" in host:
        return "cjdns" if host.lower().startswith("fc") else "ipv6"
    return "ipv4" if host and host[0].isdigit() else "not_publicly_routable"


def _relay_fee(ctx: RPCContext) -> int:
    mp = getattr(ctx.node, "mempool", None)
    policy = getattr(mp, "policy", None)
    return int(getattr(policy, "min_relay_fee", 1000))


def _incremental_fee(ctx: RPCContext) -> int:
    mp = getattr(ctx.node, "mempool", None)
    policy = getattr(mp, "policy", None)
    return int(getattr(policy, "incremental_relay_fee", 1000))


@rpc_method(
    "getconnectioncount",
    "network",
    help="Returns the number of connections to other nodes.",
    result="n    (numeric) The connection count",
    examples=help_example_cli("getconnectioncount") + help_example_rpc("getconnectioncount"),
)
def getconnectioncount(ctx: RPCContext) -> int:
    return len(_connman(ctx).peers)


@rpc_method(
    "ping",
    "network",
    help="Requests that a ping be sent to all other nodes, to measure ping time.\n"
         "Results provided in getpeerinfo, pingtime and pingwait fields are decimal seconds.\n"
         "Ping command is handled in queue with all other commands, so it measures processing backlog, not just network ping.",
    result="null    (json null)",
    examples=help_example_cli("ping") + help_example_rpc("ping"),
)
def ping(ctx: RPCContext) -> None:
    _connman(ctx).ping_all()


def _peer_info(peer, now_mono: float) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": peer.id,
        "addr": peer.addr,
    }
    if peer.local_host:
        info["addrbind"] = f"[{peer.local_host}]:{peer.local_port}" if ":" in peer.local_host else f"{peer.local_host}:{peer.local_port}"
    if peer.addr_local:
        info["addrlocal"] = peer.addr_local
    info.update({
        "network": _network_of(peer.host) if not peer.local else "not_publicly_routable",
        "services": f"{peer.services:016x}",
        "servicesnames": services_names(peer.services),
        "relaytxes": peer.relay_txs,
        "lastsend": peer.last_send,
        "lastrecv": peer.last_recv,
        "last_transaction": peer.last_transaction_time,
        "last_block": peer.last_block_time,
        "bytessent": peer.bytes_sent,
        "bytesrecv": peer.bytes_recv,
        "conntime": peer.conn_time,
        "timeoffset": peer.time_offset,
    })
    if peer.ping_time is not None:
        info["pingtime"] = round(peer.ping_time, 6)
    if peer.min_ping is not None:
        info["minping"] = round(peer.min_ping, 6)
    if peer.ping_nonce:
        info["pingwait"] = round(now_mono - peer.ping_start, 6)
    best = peer.best_known_header
    sent = peer.best_header_sent
    info.update({
        "version": peer.version,
        "subver": peer.user_agent,
        "inbound": peer.inbound,
        "bip152_hb_to": False,
        "bip152_hb_from": False,
        "startingheight": peer.start_height,
        "presynced_headers": -1,
        "synced_headers": best.height if best is not None else -1,
        "synced_blocks": best.height if best is not None else -1,
        "inflight": [],
        "addr_relay_enabled": True,
        "addr_processed": peer.addr_processed,
        "addr_rate_limited": peer.addr_rate_limited,
        "permissions": ["noban"] if peer.whitelisted else [],
        "minfeefilter": value_from_amount(peer.fee_filter),
        "bytessent_per_msg": dict(sorted(peer.bytes_sent_per_msg.items())),
        "bytesrecv_per_msg": dict(sorted(peer.bytes_recv_per_msg.items())),
        "connection_type": peer.conn_type.value,
        "transport_protocol_type": "v1",
        "session_id": "",
        # coin extras (not in Core): the misbehaviour score and what we last sent.
        "misbehavior_score": peer.misbehavior,
        "best_header_sent": sent.height if sent is not None else -1,
    })
    return info


@rpc_method(
    "getpeerinfo",
    "network",
    help="Returns data about each connected network peer as a json array of objects.",
    result='[ { "id" : n, "addr" : "str", "addrbind" : "str", "network" : "str", "services" : "hex", '
           '"servicesnames" : [ "str", ... ], "relaytxes" : true|false, "lastsend" : xxx, "lastrecv" : xxx, '
           '"bytessent" : n, "bytesrecv" : n, "conntime" : xxx, "pingtime" : n, "version" : n, "subver" : "str", '
           '"inbound" : true|false, "startingheight" : n, "synced_headers" : n, "synced_blocks" : n, '
           '"connection_type" : "str", ... }, ... ]',
    examples=help_example_cli("getpeerinfo") + help_example_rpc("getpeerinfo"),
)
def getpeerinfo(ctx: RPCContext) -> list[dict[str, Any]]:
    cm = _connman(ctx)
    now = time.monotonic()
    peers = sorted((p for p in cm.peers.values() if not p.disconnecting), key=lambda p: p.id)
    out = []
    for p in peers:
        info = _peer_info(p, now)
        info["inflight"] = sorted(
            e for e in (_height_of(ctx, h) for h in p.blocks_in_flight) if e is not None)
        out.append(info)
    return out


def _height_of(ctx: RPCContext, h: bytes) -> int | None:
    cs = getattr(ctx.node, "chainstate", None)
    e = cs.get_entry(h) if cs is not None else None
    return e.height if e is not None else None


@rpc_method(
    "getnetworkinfo",
    "network",
    help="Returns an object containing various state info regarding P2P networking.",
    result='{ "version" : n, "subversion" : "str", "protocolversion" : n, "localservices" : "hex", '
           '"localservicesnames" : [ "str", ... ], "localrelay" : true|false, "timeoffset" : n, '
           '"networkactive" : true|false, "connections" : n, "connections_in" : n, "connections_out" : n, '
           '"networks" : [ ... ], "relayfee" : n, "incrementalfee" : n, "localaddresses" : [ ... ], '
           '"warnings" : [ "str", ... ] }',
    examples=help_example_cli("getnetworkinfo") + help_example_rpc("getnetworkinfo"),
)
def getnetworkinfo(ctx: RPCContext) -> dict[str, Any]:
    cm = getattr(ctx.node, "connman", None)
    services = cm.local_services if cm is not None else 0
    inbound, outbound = cm.connection_counts() if cm is not None else (0, 0)
    networks = [{"name": n, "limited": n not in ("ipv4", "ipv6"), "reachable": n in ("ipv4", "ipv6"),
                 "proxy": "", "proxy_randomize_credentials": False}
                for n in ("ipv4", "ipv6", "onion", "i2p", "cjdns")]
    local = []
    if cm is not None and cm.listen:
        for host, port in cm.bound:
            if host not in ("0.0.0.0", "::"):
                local.append({"address": host, "port": port, "score": 1})
    return {
        "version": CLIENT_VERSION,
        "subversion": cm.user_agent if cm is not None else f"/coin:{coin.__version__}/",
        "protocolversion": PROTOCOL_VERSION,
        "localservices": f"{services:016x}",
        "localservicesnames": services_names(services),
        "localrelay": True,
        "timeoffset": 0,
        "networkactive": bool(cm.network_active) if cm is not None else False,
        "connections": inbound + outbound,
        "connections_in": inbound,
        "connections_out": outbound,
        "networks": networks,
        "relayfee": value_from_amount(_relay_fee(ctx)),
        "incrementalfee": value_from_amount(_incremental_fee(ctx)),
        "localaddresses": local,
        "warnings": [],
    }


@rpc_method(
    "getnettotals",
    "network",
    help="Returns information about network traffic, including bytes in, bytes out,\nand current system time.",
    result='{ "totalbytesrecv" : n, "totalbytessent" : n, "timemillis" : xxx, "uploadtarget" : { ... } }',
    examples=help_example_cli("getnettotals") + help_example_rpc("getnettotals"),
)
def getnettotals(ctx: RPCContext) -> dict[str, Any]:
    cm = _connman(ctx)
    recv = cm.total_bytes_recv + sum(p.bytes_recv for p in cm.peers.values())
    sent = cm.total_bytes_sent + sum(p.bytes_sent for p in cm.peers.values())
    return {
        "totalbytesrecv": recv,
        "totalbytessent": sent,
        "timemillis": int(time.time() * 1000),
        "uploadtarget": {"timeframe": 86400, "target": 0, "target_reached": False,
                         "serve_historical_blocks": True, "bytes_left_in_cycle": 0, "time_left_in_cycle": 0},
    }


_ADDNODE_HELP = (
    "Attempts to add or remove a node from the addnode list.\n"
    "Or try a connection to a node once.\n"
    "Nodes added using addnode (or -connect) are protected from DoS disconnection and are not required to be\n"
    "full nodes/support SegWit as other outbound peers are (though such peers will not be synced from).\n"
    "Addnode connections are limited to 8 at a time and are counted separately from the -maxconnections limit."
)


@rpc_method(
    "addnode",
    "network",
    params=[
        Param("node", "str", "The address of the peer to connect to"),
        Param("command", "str", "'add' to add a node to the list, 'remove' to remove a node from the list, 'onetry' to try a connection to the node once"),
        Param("v2transport", "bool", "Attempt to connect using BIP324 v2 transport protocol (ignored for 'remove' command)", optional=True, default_hint="set by -v2transport"),
    ],
    help=_ADDNODE_HELP,
    result="null    (json null)",
    examples=help_example_cli("addnode", '"192.168.0.6:8333" "onetry"') + help_example_rpc("addnode", '"192.168.0.6:8333", "onetry"'),
)
def addnode(ctx: RPCContext, node: str, command: str, v2transport: bool | None) -> None:
    if command not in ("add", "remove", "onetry"):
        assert ctx.table is not None
        raise RPCError(RPC_MISC_ERROR, ctx.table.help("addnode"))
    cm = _connman(ctx)
    if v2transport:
        raise RPCError(RPC_INVALID_PARAMETER, "Error: v2transport requested but not enabled (see -v2transport)")
    try:
        cm.add_node(node, command)
    except KeyError:
        raise RPCError(RPC_CLIENT_NODE_NOT_ADDED, "Error: Node could not be removed. It has not been added previously.") from None
    except ValueError as e:
        if str(e) == "already added":
            raise RPCError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: Node already added") from None
        raise RPCError(RPC_INVALID_PARAMETER, f"Error: Invalid node address {node}") from None


@rpc_method(
    "disconnectnode",
    "network",
    params=[
        Param("address", "str", "The IP address/port of the node", optional=True, default_hint="fallback to nodeid"),
        Param("nodeid", "int64", "The node ID (see getpeerinfo for node IDs)", optional=True, default_hint="fallback to address"),
    ],
    help="Immediately disconnects from the specified peer node.\n\n"
         "Strictly one out of 'address' and 'nodeid' can be provided to identify the node.\n\n"
         "To disconnect by nodeid, either set 'address' to the empty string, or call using the named 'nodeid' argument only.",
    result="null    (json null)",
    examples=help_example_cli("disconnectnode", '"192.168.0.6:8333"') + help_example_cli("disconnectnode", '"" 1')
    + help_example_rpc("disconnectnode", '"192.168.0.6:8333"') + help_example_rpc("disconnectnode", '"", 1'),
)
def disconnectnode(ctx: RPCContext, address: str | None, nodeid: Any) -> None:
    cm = _connman(ctx)
    if address and nodeid is not None:
        raise RPCError(RPC_INVALID_PARAMS, "Only one of address and nodeid should be provided.")
    if address:
        peer = cm.find_peer(address=address)
    elif nodeid is not None:
        if not isinstance(nodeid, int) or isinstance(nodeid, bool):
            raise RPCError(RPC_INVALID_PARAMS, "Only one of address and nodeid should be provided.")
        peer = cm.find_peer(peer_id=nodeid)
    else:
        raise RPCError(RPC_INVALID_PARAMS, "Only one of address and nodeid should be provided.")
    if peer is None or peer.disconnecting:
        raise RPCError(RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes")
    peer.disconnect("disconnectnode")


@rpc_method(
    "getaddednodeinfo",
    "network",
    params=[Param("node", "str", "If provided, return information about this specific node, otherwise all nodes are returned.", optional=True, default_hint="all nodes")],
    help="Returns information about the given added node, or all added nodes\n(note that onetry addnodes are not listed here)",
    result='[ { "addednode" : "str", "connected" : true|false, "addresses" : [ { "address" : "str", "connected" : "str" }, ... ] }, ... ]',
    examples=help_example_cli("getaddednodeinfo", '"192.168.0.201"') + help_example_rpc("getaddednodeinfo", '"192.168.0.201"'),
)
def getaddednodeinfo(ctx: RPCContext, node: str | None) -> list[dict[str, Any]]:
    info = _connman(ctx).added_node_info()
    if node:
        info = [i for i in info if i["addednode"] == node]
        if not info:
            raise RPCError(RPC_CLIENT_NODE_NOT_ADDED, "Error: Node has not been added.")
    return info


@rpc_method(
    "getnodeaddresses",
    "network",
    params=[
        Param("count", "int", "The maximum number of addresses to return. Specify 0 to return all known addresses.", default=1),
        Param("network", "str", "Return only addresses of the specified network. Can be one of: ipv4, ipv6, onion, i2p, cjdns.", optional=True, default_hint="all networks"),
    ],
    help="Return known addresses, after filtering for quality and recency.\n"
         "These can potentially be used to find new peers in the network.\n"
         "The total number of addresses known to the node may be higher.",
    result='[ { "time" : xxx, "services" : n, "address" : "str", "port" : n, "network" : "str" }, ... ]',
    examples=help_example_cli("getnodeaddresses", "8") + help_example_rpc("getnodeaddresses", "8"),
)
def getnodeaddresses(ctx: RPCContext, count: Any, network: str | None) -> list[dict[str, Any]]:
    cm = _connman(ctx)
    if not isinstance(count, int) or count < 0:
        raise RPCError(RPC_INVALID_PARAMETER, "Address count out of range")
    if network is not None and network not in ("ipv4", "ipv6", "onion", "i2p", "cjdns"):
        raise RPCError(RPC_INVALID_PARAMETER, f"Network not recognized: {network}")
    infos = cm.addrman.get_addr(max_addresses=count or len(cm.addrman) or 1, max_pct=100)
    out = []
    for a in infos:
        net = _network_of(a.host)
        if network is not None and net != network:
            continue
        out.append({"time": a.time, "services": a.services, "address": a.host, "port": a.port, "network": net})
    return out


@rpc_method(
    "setban",
    "network",
    params=[
        Param("subnet", "str", "The IP/Subnet (see getpeerinfo for nodes IP) with an optional netmask (default is /32 = single IP)"),
        Param("command", "str", "'add' to add an IP/Subnet to the list, 'remove' to remove an IP/Subnet from the list"),
        Param("bantime", "int64", "time in seconds how long (or until when if [absolute] is set) the IP is banned (0 or empty means using the default time of 24h which can also be overwritten by the -bantime startup argument)", default=0),
        Param("absolute", "bool", "If set, the bantime must be an absolute timestamp expressed in UNIX epoch time", default=False),
    ],
    help="Attempts to add or remove an IP/Subnet from the banned list.",
    result="null    (json null)",
    examples=help_example_cli("setban", '"192.168.0.6" "add" 86400') + help_example_cli("setban", '"192.168.0.0/24" "add"')
    + help_example_rpc("setban", '"192.168.0.6", "add", 86400'),
)
def setban(ctx: RPCContext, subnet: str, command: str, bantime: Any, absolute: bool) -> None:
    if command not in ("add", "remove"):
        assert ctx.table is not None
        raise RPCError(RPC_MISC_ERROR, ctx.table.help("setban"))
    cm = _connman(ctx)
    try:
        net = parse_subnet(subnet)
    except ValueError:
        raise RPCError(RPC_CLIENT_INVALID_IP_OR_SUBNET, "Error: Invalid IP/Subnet") from None
    if command == "add":
        if cm.banman.is_banned_subnet(net):
            raise RPCError(RPC_CLIENT_NODE_ALREADY_ADDED, "Error: IP/Subnet already banned")
        t = int(bantime) if isinstance(bantime, (int, float)) and not isinstance(bantime, bool) else 0
        if absolute and t < time.time():
            raise RPCError(RPC_INVALID_PARAMETER, "Error: Absolute timestamp is in the past")
        cm.banman.ban(net, t, absolute)
        cm.disconnect_matching(net)
    else:
        if not cm.banman.unban(net):
            raise RPCError(RPC_CLIENT_INVALID_IP_OR_SUBNET,
                           "Error: Unban failed. Requested address/subnet was not previously manually banned.")


@rpc_method(
    "listbanned",
    "network",
    help="List all manually banned IPs/Subnets.",
    result='[ { "address" : "str", "ban_created" : xxx, "banned_until" : xxx, "ban_duration" : xxx, "time_remaining" : xxx }, ... ]',
    examples=help_example_cli("listbanned") + help_example_rpc("listbanned"),
)
def listbanned(ctx: RPCContext) -> list[dict[str, Any]]:
    return _connman(ctx).banman.list_banned()


@rpc_method(
    "clearbanned",
    "network",
    help="Clear all banned IPs.",
    result="null    (json null)",
    examples=help_example_cli("clearbanned") + help_example_rpc("clearbanned"),
)
def clearbanned(ctx: RPCContext) -> None:
    _connman(ctx).banman.clear_banned()


@rpc_method(
    "setnetworkactive",
    "network",
    params=[Param("state", "bool", "true to enable networking, false to disable")],
    help="Disable/enable all p2p network activity.",
    result="true|false    (boolean) The value that was passed in",
    examples=help_example_cli("setnetworkactive", "true") + help_example_rpc("setnetworkactive", "true"),
)
async def setnetworkactive(ctx: RPCContext, state: bool) -> bool:
    await _connman(ctx).set_network_active(bool(state))
    return bool(state)
