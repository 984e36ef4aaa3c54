"""``/metrics`` on the RPC port: Prometheus' text format, behind the RPC auth, with figures
that agree with the node's own RPC answers.
"""

import base64
import re

import pytest
from blockbuilder import BlockBuilder, Utxo

from coin.crypto.address import script_to_address
from coin.params import get_params
from coin.primitives import Block, OutPoint
from coin.regtest.cli import fallback_address
from coin.rpc.metrics import Histogram, escape_label, format_value

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$')


def parse_exposition(text):
    """A strict reader of the 0.0.4 text format: {family: {"type", "help", "samples": {line-key: value}}}."""
    assert text.endswith("\n")
    families, current = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            families.setdefault(name, {"samples": {}})["help"] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert not families.get(name, {}).get("samples"), f"TYPE after samples: {line}"
            families.setdefault(name, {"samples": {}})["type"] = kind
            current = name
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            assert current is not None and (name == current or name.rpartition("_")[0] == current), f"{name} outside its family"
            families[current]["samples"][name + labels] = float(value)
    return families


def scrape(node):
    status, headers, body = node.http(method="GET", path="/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(body.decode())


def test_metrics_needs_the_rpc_credentials(regtest_node):
    status, headers, body = regtest_node.http(method="GET", path="/metrics", auth=None)
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"' and body == b""
    bad = "Basic " + base64.b64encode(b"__cookie__:" + b"0" * 64).decode()
    assert regtest_node.http(method="GET", path="/metrics", auth=bad)[0] == 401
    assert regtest_node.http(method="POST", path="/metrics")[0] == 405


def test_metrics_agree_with_the_node(regtest_node):
    node = regtest_node
    before = scrape(node)
    for name in ("coin_block_height", "coin_uptime_seconds"):
        assert before[name]["type"] == "gauge" and before[name]["help"]
    assert before["coin_blocks_connected_total"]["type"] == "counter"
    assert before["coin_block_validation_seconds"]["type"] == "histogram"
    assert before["coin_block_height"]["samples"]["coin_block_height"] == node.getblockcount() == 0

    node.generatetoaddress(5, fallback_address())
    for _ in range(3):
        node.getblockcount()
    with pytest.raises(Exception):  # noqa: B017 - any RPC error: the call still counts
        node.nosuchmethod()
    after = scrape(node)
    assert after["coin_block_height"]["samples"]["coin_block_height"] == node.getblockcount() == 5
    connected = after["coin_blocks_connected_total"]["samples"]["coin_blocks_connected_total"]
    assert connected - before["coin_blocks_connected_total"]["samples"]["coin_blocks_connected_total"] == 5

    hist = after["coin_block_validation_seconds"]["samples"]
    count = hist["coin_block_validation_seconds_count"]
    assert count >= 5 and hist['coin_block_validation_seconds_bucket{le="+Inf"}'] == count
    buckets = [v for k, v in hist.items() if "_bucket" in k]
    assert buckets == sorted(buckets)  # cumulative
    assert hist["coin_block_validation_seconds_sum"] > 0

    calls = after["coin_rpc_calls_total"]["samples"]
    old = before["coin_rpc_calls_total"]["samples"]
    key = 'coin_rpc_calls_total{method="getblockcount"}'
    assert calls[key] - old.get(key, 0) == 4  # three here, one in the assertion on the height
    assert calls['coin_rpc_calls_total{method="unknown"}'] >= 1
    assert calls['coin_rpc_calls_total{method="generatetoaddress"}'] == 1
    if "coin_mempool_transactions" in after:
        assert after["coin_mempool_transactions"]["samples"]["coin_mempool_transactions"] == len(node.getrawmempool())


def test_histogram_and_text_helpers():
    h = Histogram([0.1, 1.0])
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v)
    fams = parse_exposition("# TYPE x histogram\n" + "\n".join(h.samples("x")) + "\n")["x"]["samples"]
    assert fams == {'x_bucket{le="0.1"}': 2, 'x_bucket{le="1.0"}': 3, 'x_bucket{le="+Inf"}': 4, "x_sum": 3.65, "x_count": 4}
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert [format_value(v) for v in (3, 0.5, float("inf"), True)] == ["3", "0.5", "+Inf", "1"]


def test_peers_blocks_and_mempool_from_the_network(make_network):
    builder = BlockBuilder(seed=b"metrics")
    address = script_to_address(builder.p2wpkh, get_params("regtest"))
    net = make_network(2, "line")
    net[0].generatetoaddress(101, address)
    net.sync_blocks()
    coinbase = Block.from_bytes(bytes.fromhex(net[0].getblock(net[0].getblockhash(1), 0))).txs[0]
    tx = builder.spend([Utxo(OutPoint(coinbase.txid_bytes, 0), coinbase.outputs[0])], fee=10_000)
    net[0].sendrawtransaction(tx.to_bytes().hex())
    net.sync_mempools()
    figures = scrape(net[1])
    assert figures["coin_peers"]["samples"]["coin_peers"] == net[1].getconnectioncount() == 1
    # blocks that arrived over P2P are connected and timed like mined ones
    assert figures["coin_blocks_connected_total"]["samples"]["coin_blocks_connected_total"] == 101
    assert figures["coin_block_validation_seconds"]["samples"]["coin_block_validation_seconds_count"] >= 101
    info = net[1].getmempoolinfo()
    assert info["size"] == 1
    assert figures["coin_mempool_transactions"]["samples"]["coin_mempool_transactions"] == 1
    assert figures["coin_mempool_bytes"]["samples"]["coin_mempool_bytes"] == info["bytes"] == tx.vsize
