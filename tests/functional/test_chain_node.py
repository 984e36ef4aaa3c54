"""coind keeps a chain: -loadblock of real mainnet blocks, reorgs, and kill -9 at any point.

Real coind processes, real LevelDB, real HTTP. The oracle for mainnet blocks 1-255 is
python-bitcoinlib: it parses the same file and computes the UTXO set independently.
"""

from __future__ import annotations

import bz2
import hashlib
import struct
import threading
import time
from pathlib import Path

import pytest
from bitcoin.core import CBlock

from coin.regtest.framework import TestNode, wait_until
from coin.rpc.client import RPCClientError
from coin.rpc.errors import RPCError

MAIN_TIP_255 = "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c"
MAGIC = bytes.fromhex("f9beb4d9")
ADDRESS = "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c"
OTHER_ADDRESS = "bcrt1qyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zs4w3j0"


def mainnet_node(datadir: Path, *extra_args: str) -> TestNode:
    """coind on -chain=main (still only on loopback ports)."""
    return TestNode(0, datadir, extra_args=extra_args, chain="main")


def split_blk(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        assert data[pos:pos + 4] == MAGIC
        (n,) = struct.unpack_from("<I", data, pos + 4)
        out.append((pos + 8, data[pos + 8:pos + 8 + n]))
        pos += 8 + n
    return out


@pytest.fixture(scope="module")
def mainnet_file(tmp_path_factory, vectors_dir) -> Path:
    path = tmp_path_factory.mktemp("blk") / "blk-1-255.dat"
    path.write_bytes(bz2.decompress((vectors_dir / "blocks/mainnet-blocks-1-255.blk.bz2").read_bytes()))
    return path


def bitcoinlib_utxo_set(raw: bytes) -> dict[tuple[bytes, int], tuple[int, int, bool, bytes]]:
    """The UTXO set after blocks 1-255, computed by python-bitcoinlib's parser."""
    utxos: dict[tuple[bytes, int], tuple[int, int, bool, bytes]] = {}
    for height, (_, block_bytes) in enumerate(split_blk(raw), start=1):
        block = CBlock.deserialize(block_bytes)
        for i, tx in enumerate(block.vtx):
            if i > 0:
                for txin in tx.vin:
                    del utxos[(txin.prevout.hash, txin.prevout.n)]
            for n, out in enumerate(tx.vout):
                utxos[(tx.GetTxid(), n)] = (out.nValue, height, i == 0, bytes(out.scriptPubKey))
    return utxos


def hash_serialized_3(utxos) -> str:
    """Core's hash_serialized_3 over a UTXO set: sha256d of each coin in outpoint order."""
    h = hashlib.sha256()
    for (txid, n) in sorted(utxos):
        value, height, coinbase, script = utxos[(txid, n)]
        h.update(txid + struct.pack("<II", n, height * 2 + coinbase) + struct.pack("<q", value)
                 + bytes([len(script)]) + script)
    return hashlib.sha256(h.digest()).digest()[::-1].hex()


def test_loadblock_mainnet_255_matches_bitcoinlib(tmp_path, mainnet_file):
    node = mainnet_node(tmp_path / "node", f"-loadblock={mainnet_file}").start()
    try:
        wait_until(lambda: node.rpc("getblockcount") == 255, timeout=120, what="import to height 255")
        assert node.rpc("getbestblockhash") == MAIN_TIP_255
        oracle = bitcoinlib_utxo_set(mainnet_file.read_bytes())
        info = node.rpc("gettxoutsetinfo")
        assert info["height"] == 255 and info["bestblock"] == MAIN_TIP_255
        assert info["txouts"] == len(oracle)
        assert int(info["total_amount"] * 10**8) == sum(v[0] for v in oracle.values())
        assert info["hash_serialized_3"] == hash_serialized_3(oracle)
        # Block 170: the first spend, verified with its real P2PK signature.
        block170 = node.rpc("getblock", node.rpc("getblockhash", 170), 2)
        assert block170["tx"][1]["vin"][0]["txid"] == (
            "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9")
        assert block170["tx"][1]["fee"] == 0
    finally:
        assert node.stop() == 0


def test_tampered_signature_in_block_170_stops_the_chain_at_169(tmp_path, mainnet_file):
    raw = bytearray(mainnet_file.read_bytes())
    offset, block_bytes = split_blk(bytes(raw))[169]
    block = CBlock.deserialize(block_bytes)
    sig_push = bytes(block.vtx[1].vin[0].scriptSig)
    pos = offset + block_bytes.index(sig_push) + 10  # inside the signature's r value
    raw[pos] ^= 0x01
    tampered = tmp_path / "tampered.dat"
    tampered.write_bytes(bytes(raw))

    node = mainnet_node(tmp_path / "node", f"-loadblock={tampered}").start()
    try:
        wait_until(lambda: "Imported" in (node.datadir / "debug.log").read_text(), timeout=120,
                   what="the import to finish")
        assert node.rpc("getblockcount") == 169
        assert node.rpc("getblockchaininfo")["blocks"] == 169
        # The node still serves RPC, and block 169's coins are intact.
        assert node.rpc("gettxoutsetinfo")["height"] == 169
    finally:
        assert node.stop() == 0


def _blocks_hex(node, hashes):
    return [node.rpc("getblock", h, 0) for h in hashes]


@pytest.mark.parametrize("depth", [1, 101])
def test_reorg_to_more_work_branch_matches_a_node_that_only_saw_it(tmp_path, depth):
    a = TestNode(0, tmp_path / "a").start()
    b = TestNode(0, tmp_path / "b").start()
    try:
        common = a.rpc("generatetoaddress", 5, ADDRESS)
        for raw in _blocks_hex(a, common):
            assert b.rpc("submitblock", raw) is None
        a.rpc("generatetoaddress", depth, ADDRESS)
        winning = b.rpc("generatetoaddress", depth + 1, OTHER_ADDRESS)
        assert a.rpc("getbestblockhash") != b.rpc("getbestblockhash")
        results = [a.rpc("submitblock", raw) for raw in _blocks_hex(b, winning)]
        # Side-branch blocks are stored without a verdict until they carry more work.
        assert results[-1] is None
        assert set(results[:-1]) <= {None, "inconclusive"}
        assert a.rpc("getbestblockhash") == b.rpc("getbestblockhash") == winning[-1]
        stats_a, stats_b = a.rpc("gettxoutsetinfo"), b.rpc("gettxoutsetinfo")
        stats_a.pop("disk_size"), stats_b.pop("disk_size")
        assert stats_a == stats_b
        tips = {t["status"] for t in a.rpc("getchaintips")}
        assert tips == {"active", "valid-fork"}
        assert a.rpc("submitblock", _blocks_hex(b, winning[-1:])[0]) == "duplicate"
    finally:
        assert a.stop() == 0
        assert b.stop() == 0


def test_invalidate_and_reconsider(tmp_path):
    node = TestNode(0, tmp_path / "n").start()
    try:
        hashes = node.rpc("generatetoaddress", 10, ADDRESS)
        before = node.rpc("gettxoutsetinfo")
        node.rpc("invalidateblock", hashes[5])
        assert node.rpc("getblockcount") == 5
        assert {"height": 10, "hash": hashes[-1], "branchlen": 5, "status": "invalid"} in node.rpc("getchaintips")
        node.rpc("reconsiderblock", hashes[5])
        assert node.rpc("getbestblockhash") == hashes[-1]
        assert node.rpc("gettxoutsetinfo")["hash_serialized_3"] == before["hash_serialized_3"]
        with pytest.raises(RPCError) as e:
            node.rpc("invalidateblock", "00" * 32)
        assert (e.value.code, e.value.message) == (-5, "Block not found")
        with pytest.raises(RPCError) as e:
            node.rpc("getblockhash", 11)
        assert (e.value.code, e.value.message) == (-8, "Block height out of range")
    finally:
        assert node.stop() == 0


def test_preciousblock_picks_between_tips_of_equal_work(tmp_path):
    """Core's preciousblock on a real node: two tips at the same height (one mined
    while the other was invalidated, then reconsidered); each call makes its block the
    active tip, and a block with less work is left alone."""
    node = TestNode(0, tmp_path / "n").start()
    try:
        base = node.rpc("generatetoaddress", 3, ADDRESS)
        x = node.rpc("generatetoaddress", 1, ADDRESS)[0]
        node.rpc("invalidateblock", x)
        y = node.rpc("generatetoaddress", 1, OTHER_ADDRESS)[0]
        node.rpc("reconsiderblock", x)
        tips = {t["hash"]: t["status"] for t in node.rpc("getchaintips")}
        assert set(tips) == {x, y} and sorted(tips.values()) == ["active", "valid-fork"]
        first = node.rpc("getbestblockhash")
        second = y if first == x else x
        assert node.rpc("preciousblock", second) is None
        assert node.rpc("getbestblockhash") == second and node.rpc("getblockcount") == 4
        node.rpc("preciousblock", first)
        assert node.rpc("getbestblockhash") == first
        node.rpc("preciousblock", base[-1])          # less work than the tip: no change
        assert node.rpc("getbestblockhash") == first
        with pytest.raises(RPCError) as e:
            node.rpc("preciousblock", "00" * 32)
        assert (e.value.code, e.value.message) == (-5, "Block not found")
        with pytest.raises(RPCError) as e:
            node.rpc("preciousblock", "xyz")
        assert e.value.code == -8
    finally:
        assert node.stop() == 0


def _subsidy_sum(height: int) -> int:
    return sum((50 * 10**8) >> (h // 150) for h in range(1, height + 1))


def _assert_consistent(node) -> int:
    height = node.rpc("getblockcount")
    info = node.rpc("gettxoutsetinfo")
    assert info["height"] == height
    # Every regtest block adds exactly one spendable output: its coinbase.
    assert info["txouts"] == height
    assert int(info["total_amount"] * 10**8) == _subsidy_sum(height)
    return height


@pytest.mark.parametrize("kill_after", [0.3, 0.9, 1.7])
def test_sigkill_while_mining_restarts_consistent(tmp_path, kill_after):
    node = TestNode(0, tmp_path / "n", extra_args=["-dbcache=4"]).start()

    def mine():
        try:
            node.rpc("generatetoaddress", 400, ADDRESS)
        except (RPCClientError, RPCError, OSError):
            pass  # the node is killed under us

    miner = threading.Thread(target=mine)
    miner.start()
    time.sleep(kill_after)
    node.kill()
    miner.join()
    node.start()
    try:
        height = _assert_consistent(node)
        # It goes on from where it restarted.
        node.rpc("generatetoaddress", 3, ADDRESS)
        assert _assert_consistent(node) == height + 3
    finally:
        assert node.stop() == 0


def test_sigkill_during_import_restarts_consistent(tmp_path, mainnet_file):
    node = mainnet_node(tmp_path / "node", f"-loadblock={mainnet_file}")
    node.start(wait=False)
    wait_until(lambda: (node.datadir / "debug.log").exists()
               and "Importing" in (node.datadir / "debug.log").read_text(), timeout=60,
               what="the import to begin")
    time.sleep(0.2)
    node.kill()
    node.start()
    try:
        wait_until(lambda: node.rpc("getblockcount") == 255, timeout=120, what="import to finish")
        oracle = bitcoinlib_utxo_set(mainnet_file.read_bytes())
        assert node.rpc("gettxoutsetinfo")["hash_serialized_3"] == hash_serialized_3(oracle)
    finally:
        assert node.stop() == 0
