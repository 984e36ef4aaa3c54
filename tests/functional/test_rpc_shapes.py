"""Result shapes and errors of the chain, mining and util RPCs, as Bitcoin Core answers them."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import bitcoin
import pytest
from bitcoin.core import CTransaction, b2lx, x
from bitcoin.wallet import CBitcoinAddress

from coin.regtest.framework import TestNode
from coin.rpc.errors import RPCError
from coin.script.descriptor import descsum_check, descsum_create

P2WPKH = "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    proc = TestNode(0, tmp_path_factory.mktemp("shapes") / "n").start()
    yield proc
    assert proc.stop() == 0


def rpc_error(node, method, *args):
    with pytest.raises(RPCError) as e:
        node.rpc(method, *args)
    return e.value.code, e.value.message


def test_version_bits_signal_testdummy_as_core_on_regtest(node):
    # Regtest's testdummy (bit 28): DEFINED for 0..143, STARTED 144..287, LOCKED_IN
    # 288..431 (every block signals), ACTIVE from 432: bit 28 set on 144..431 only.
    start = node.rpc("getblockcount")
    assert start == 0
    node.rpc("generatetoaddress", 433, P2WPKH)
    versions = {h: node.rpc("getblockheader", node.rpc("getblockhash", h))["version"]
                for h in (1, 143, 144, 287, 288, 431, 432, 433)}
    assert versions == {1: 0x20000000, 143: 0x20000000, 144: 0x30000000, 287: 0x30000000,
                        288: 0x30000000, 431: 0x30000000, 432: 0x20000000, 433: 0x20000000}
    template = node.rpc("getblocktemplate", {"rules": ["segwit"]})
    assert template["vbavailable"] == {} and "testdummy" in template["rules"]
    assert template["version"] == 0x20000000


def test_blockchain_info_and_header_fields(node):
    info = node.rpc("getblockchaininfo")
    assert list(info) == ["chain", "blocks", "headers", "bestblockhash", "bits", "target", "difficulty", "time",
                          "mediantime", "verificationprogress", "initialblockdownload", "chainwork",
                          "size_on_disk", "pruned", "warnings"]
    assert info["chain"] == "regtest" and info["difficulty"] == Decimal("4.656542373906925E-10")
    assert info["chainwork"] == f"{2 * (info['blocks'] + 1):064x}"
    genesis = node.rpc("getblockheader", node.rpc("getblockhash", 0))
    assert genesis["hash"] == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    assert "previousblockhash" not in genesis and genesis["confirmations"] == info["blocks"] + 1
    assert genesis["versionHex"] == "00000001" and genesis["bits"] == "207fffff"
    assert node.rpc("getblockheader", info["bestblockhash"], False)[:8] == "00000020"
    assert rpc_error(node, "getblock", "00" * 32) == (-5, "Block not found")
    assert rpc_error(node, "getblock", "zz")[0] == -8


def test_getblock_verbosities_agree(node):
    best = node.rpc("getbestblockhash")
    raw = node.rpc("getblock", best, 0)
    assert node.rpc("getblock", best, False) == raw
    one, two = node.rpc("getblock", best, 1), node.rpc("getblock", best, 2)
    assert one["tx"] == [t["txid"] for t in two["tx"]]
    assert node.rpc("getblock", best, True) == one
    coinbase = two["tx"][0]
    assert set(coinbase["vin"][0]) == {"coinbase", "txinwitness", "sequence"}
    assert "fee" not in coinbase
    # python-bitcoinlib computes the same ids from the hex.
    assert b2lx(CTransaction.deserialize(x(coinbase["hex"])).GetTxid()) == coinbase["txid"]


def test_descriptors_carry_valid_checksums():
    assert descsum_create("raw(deadbeef)") == "raw(deadbeef)#89f8spxm"  # BIP-0380's example
    assert descsum_check("raw(deadbeef)#89f8spxm")
    assert not descsum_check("raw(deadbeef)#89f8spxn")
    assert not descsum_check("raw(deadbeee)#89f8spxm")


def test_validateaddress(node):
    wpkh = node.rpc("validateaddress", P2WPKH)
    assert wpkh == {"isvalid": True, "address": P2WPKH, "scriptPubKey": "0014" + "11" * 20, "isscript": False,
                    "iswitness": True, "witness_version": 0, "witness_program": "11" * 20}
    bitcoin.SelectParams("regtest")  # python-bitcoinlib agrees on the scriptPubKey
    assert CBitcoinAddress(P2WPKH).to_scriptPubKey().hex() == wpkh["scriptPubKey"]
    mainnet = node.rpc("validateaddress", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    assert mainnet["isvalid"] is False
    assert mainnet["error"] == "Invalid or unsupported Segwit (Bech32) or Base58 encoding."
    wrong_hrp = node.rpc("validateaddress", "bcrt1" + P2WPKH[5:-1] + "x")
    assert wrong_hrp["isvalid"] is False and wrong_hrp["error_locations"] == []
    p2pkh_main = node.rpc("validateaddress", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert p2pkh_main == {"isvalid": False, "error_locations": [],
                          "error": "Invalid or unsupported Base58-encoded address."}


def test_decodescript(node):
    multisig = "5121" + "02" + "11" * 32 + "51ae"
    out = node.rpc("decodescript", multisig)
    assert out["type"] == "multisig" and out["asm"] == "1 02" + "11" * 32 + " 1 OP_CHECKMULTISIG"
    assert out["desc"].startswith("multi(1,02" + "11" * 32 + ")#")
    assert out["p2sh"].startswith("2") and out["segwit"]["type"] == "witness_v0_scripthash"
    nulldata = node.rpc("decodescript", "6a0401020304")
    assert nulldata["type"] == "nulldata" and "p2sh" not in nulldata
    assert nulldata["desc"] == descsum_create("raw(6a0401020304)")


def test_createrawtransaction_and_decode(node):
    txid = "aa" * 32
    hexstring = node.rpc("createrawtransaction", [{"txid": txid, "vout": 1}], [{P2WPKH: 0.5}, {"data": "beef"}])
    tx = CTransaction.deserialize(x(hexstring))
    assert tx.nVersion == 2 and tx.vin[0].nSequence == 0xFFFFFFFF and tx.vout[0].nValue == 50_000_000
    decoded = node.rpc("decoderawtransaction", hexstring)
    assert decoded["vin"][0]["txid"] == txid and decoded["vout"][1]["scriptPubKey"]["type"] == "nulldata"
    assert "hex" not in decoded
    rbf = node.rpc("createrawtransaction", [{"txid": txid, "vout": 0}], {P2WPKH: 1}, 0, True)
    assert CTransaction.deserialize(x(rbf)).vin[0].nSequence == 0xFFFFFFFD
    locked = node.rpc("createrawtransaction", [{"txid": txid, "vout": 0}], {P2WPKH: 1}, 5)
    assert CTransaction.deserialize(x(locked)).vin[0].nSequence == 0xFFFFFFFE
    assert rpc_error(node, "createrawtransaction", [{"txid": txid}], {}) == (-8, "Invalid parameter, missing vout key")
    assert rpc_error(node, "createrawtransaction", [{"txid": txid, "vout": -1}], {}) == (
        -8, "Invalid parameter, vout cannot be negative")
    assert rpc_error(node, "createrawtransaction", [], {"nope": 1}) == (-5, "Invalid Bitcoin address: nope")
    assert rpc_error(node, "createrawtransaction", [], [{P2WPKH: 1}, {P2WPKH: 2}]) == (
        -8, f"Invalid parameter, duplicated address: {P2WPKH}")
    assert rpc_error(node, "decoderawtransaction", "00") == (-22, "TX decode failed")


def test_decoding_a_transaction_without_inputs(node):
    """Core's DecodeHexTx: createrawtransaction with no inputs gives a legacy-serialized
    transaction that the extended (BIP-0144) reading cannot take; the legacy reading
    does. `iswitness` picks one reading; a segwit transaction needs the extended one."""
    empty = node.rpc("createrawtransaction", [], [{P2WPKH: 1}])
    spk = node.rpc("validateaddress", P2WPKH)["scriptPubKey"]
    # version 2, no inputs, one output of 1 BTC, lock time 0: the legacy serialization
    assert empty == "02000000" + "00" + "01" + "00e1f50500000000" + "16" + spk + "00000000"
    decoded = node.rpc("decoderawtransaction", empty)
    assert decoded["vin"] == [] and decoded["vout"][0]["value"] == 1
    assert decoded["txid"] == hashlib.sha256(hashlib.sha256(x(empty)).digest()).digest()[::-1].hex()
    assert node.rpc("decoderawtransaction", empty, False)["txid"] == decoded["txid"]
    assert rpc_error(node, "decoderawtransaction", empty, True) == (-22, "TX decode failed")
    segwit = ("02000000000101" + "aa" * 32 + "00000000" + "00" + "ffffffff" + "01" + "00e1f50500000000"
              + "160014" + "11" * 20 + "02" + "01" + "01" + "01" + "02" + "00000000")
    assert node.rpc("decoderawtransaction", segwit)["vin"][0]["txinwitness"] == ["01", "02"]
    assert node.rpc("decoderawtransaction", segwit, True)["hash"] != node.rpc("decoderawtransaction", segwit)["txid"]
    assert rpc_error(node, "decoderawtransaction", segwit, False) == (-22, "TX decode failed")
    # a transaction without inputs decodes, but is no transaction to relay
    assert rpc_error(node, "sendrawtransaction", empty) == (-26, "bad-txns-vin-empty")


def test_transaction_errors(node):
    assert rpc_error(node, "sendrawtransaction", "zz") == (
        -22, "TX decode failed. Make sure the tx has at least one input.")
    assert rpc_error(node, "getrawtransaction", "ab" * 32)[0] == -5
    genesis_cb = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    assert rpc_error(node, "getrawtransaction", genesis_cb) == (
        -5, "The genesis block coinbase is not considered an ordinary transaction and cannot be retrieved")
    assert rpc_error(node, "getmempoolentry", "ab" * 32) == (-5, "Transaction not in mempool")
    assert rpc_error(node, "getrawmempool", True, True) == (
        -8, "Verbose results cannot contain mempool sequence values.")
    assert node.rpc("getrawmempool", False, True) == {"txids": [], "mempool_sequence": node.rpc(
        "getrawmempool", False, True)["mempool_sequence"]}
    assert rpc_error(node, "testmempoolaccept", []) == (-8, "Array must contain between 1 and 25 transactions.")
    assert rpc_error(node, "estimatesmartfee", 0) == (-8, "Invalid conf_target, must be between 1 and 1008")
    assert node.rpc("estimatesmartfee", 6) == {"errors": ["Insufficient data or no feerate found"], "blocks": 0}
    info = node.rpc("getmempoolinfo")
    assert info["size"] == 0 and info["minrelaytxfee"] == Decimal("0.00001000") and info["loaded"] is True
    assert node.rpc("getmininginfo")["chain"] == "regtest"
