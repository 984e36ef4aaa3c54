"""The Bitcoin Core RPCs that bitcoind tools call and coind added late, on a real coind:
integer arguments (Core's getInt), scantxoutset, getdeploymentinfo, setmocktime,
prioritisetransaction / getprioritisedtransactions / savemempool, submitheader,
verifychain, getchaintxstats, getblockstats and the waitfor* methods.

Expected values come from python-bitcoinlib (an independent implementation) or from
other RPCs, never from the code under test.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import pytest
from bitcoin.core import CTransaction, lx, x
from coin.regtest.framework import TestNode

from coin.crypto.base58 import b58check_decode, b58check_encode
from coin.rpc.errors import RPCError
from coin.script.descriptor import descsum_check, descsum_create

P2WPKH = "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c"
P2WPKH_SCRIPT = "0014" + "11" * 20


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    proc = TestNode(0, tmp_path_factory.mktemp("more") / "n").start()
    proc.rpc("generatetoaddress", 110, P2WPKH)
    yield proc
    assert proc.stop() == 0


def rpc_error(node, method, *args, **named):
    with pytest.raises(RPCError) as e:
        node.rpc(method, *args, **named)
    return e.value.code, e.value.message


OUT_OF_RANGE = (-1, "JSON integer out of range")


# -- 1. integer arguments ----------------------------------------------------------------


@pytest.mark.parametrize("value", [Decimal("1.5"), Decimal("1.0"), 2**31, -(2**31) - 1],
                         ids=["fraction", "integral-decimal", "int32-max-plus-1", "int32-min-minus-1"])
def test_getblockhash_height_is_a_cpp_int(node, value):
    assert rpc_error(node, "getblockhash", value) == OUT_OF_RANGE


def test_integer_arguments_keep_their_other_errors(node):
    assert rpc_error(node, "getblockhash", -1) == (-8, "Block height out of range")
    code, message = rpc_error(node, "getblockhash", "1")
    assert code == -3 and '"Position 1 (height)": "JSON value of type string is not of expected type number"' in message
    assert node.rpc("getblockhash", 0) == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


def test_getblock_verbosity_is_get_int(node):
    best = node.rpc("getbestblockhash")
    assert rpc_error(node, "getblock", best, Decimal("1.5")) == OUT_OF_RANGE
    assert rpc_error(node, "getblock", best, "1") == (-3, "JSON value of type string is not of expected type number")
    assert node.rpc("getblock", best, True) == node.rpc("getblock", best, 1)


def test_createrawtransaction_integers(node):
    txid = "11" * 32
    assert rpc_error(node, "createrawtransaction", [{"txid": txid, "vout": 2**32}], {}) == OUT_OF_RANGE
    assert rpc_error(node, "createrawtransaction", [{"txid": txid, "vout": Decimal("0.5")}], {}) == OUT_OF_RANGE
    assert rpc_error(node, "createrawtransaction", [{"txid": txid, "vout": "0"}], {}) == (
        -8, "Invalid parameter, missing vout key")
    assert rpc_error(node, "createrawtransaction", [{"txid": txid, "vout": 0, "sequence": 2**63}], {}) == OUT_OF_RANGE
    assert rpc_error(node, "createrawtransaction", [{"txid": txid, "vout": 0, "sequence": 2**32}], {}) == (
        -8, "Invalid parameter, sequence number is out of range")
    assert rpc_error(node, "createrawtransaction", [], {}, Decimal("1.5")) == OUT_OF_RANGE
    assert rpc_error(node, "createrawtransaction", [], {}, 2**32) == (-8, "Invalid parameter, locktime out of range")
    # A non-number sequence is ignored, as Core's `if (sequenceObj.isNum())`.
    raw = node.rpc("createrawtransaction", [{"txid": txid, "vout": 7, "sequence": "x"}], {}, 5)
    tx = CTransaction.deserialize(x(raw))
    assert tx.vin[0].prevout.n == 7 and tx.vin[0].nSequence == 0xFFFFFFFE and tx.nLockTime == 5


def test_gettxout_vout_is_uint32(node):
    txid = node.rpc("getblock", node.rpc("getblockhash", 1))["tx"][0]
    assert rpc_error(node, "gettxout", txid, -1) == OUT_OF_RANGE
    assert rpc_error(node, "gettxout", txid, 2**32) == OUT_OF_RANGE
    assert node.rpc("gettxout", txid, 2**32 - 1) is None
    assert node.rpc("gettxout", txid, 0)["scriptPubKey"]["hex"] == P2WPKH_SCRIPT


def test_generate_counts_are_integers(node):
    assert rpc_error(node, "generatetoaddress", Decimal("1.5"), P2WPKH) == OUT_OF_RANGE
    assert rpc_error(node, "generatetoaddress", 1, P2WPKH, -1) == OUT_OF_RANGE
    assert rpc_error(node, "estimatesmartfee", Decimal("2.5")) == OUT_OF_RANGE


# -- 2. scantxoutset -----------------------------------------------------------------------


G = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


def _bip84_tpub_and_keys(vectors_dir):
    """BIP-0084's account key under regtest's tpub version, and its /0/0, /0/1 pubkeys."""
    text = (vectors_dir / "bips" / "bip-0084.mediawiki").read_text()
    zpub = re.search(r"xpub\s+=\s+(zpub\w+)", text).group(1)
    keys = re.findall(r"pubkey\s+=\s+([0-9a-f]{66})", text)
    return b58check_encode(bytes.fromhex("043587cf") + b58check_decode(zpub)[4:]), keys[:2]


def test_scantxoutset_addr_matches_the_utxo_set(node):
    result = node.rpc("scantxoutset", "start", [f"addr({P2WPKH})"])
    assert list(result) == ["success", "txouts", "height", "bestblock", "unspents", "total_amount"]
    assert result["success"] is True
    assert result["height"] == node.rpc("getblockcount")
    assert result["bestblock"] == node.rpc("getbestblockhash")
    assert result["txouts"] == node.rpc("gettxoutsetinfo")["txouts"]
    unspents = result["unspents"]
    assert len(unspents) >= 110
    assert list(unspents[0]) == ["txid", "vout", "scriptPubKey", "desc", "amount", "coinbase", "height",
                                 "blockhash", "confirmations"]
    # Core's std::map<COutPoint> order: raw txid bytes, then vout.
    assert [(lx(u["txid"]), u["vout"]) for u in unspents] == sorted((lx(u["txid"]), u["vout"]) for u in unspents)
    assert result["total_amount"] == sum(u["amount"] for u in unspents)
    for u in unspents[:5]:
        txout = node.rpc("gettxout", u["txid"], u["vout"])
        assert txout["value"] == u["amount"] and txout["coinbase"] is u["coinbase"] is True
        assert u["scriptPubKey"] == P2WPKH_SCRIPT and u["desc"] == descsum_create(f"addr({P2WPKH})")
        assert node.rpc("getblockhash", u["height"]) == u["blockhash"]
        assert u["confirmations"] == txout["confirmations"]
        assert node.rpc("getblock", u["blockhash"])["tx"][0] == u["txid"]


def test_scantxoutset_combo_reports_each_script_with_its_key_origin(node):
    fingerprint = hashlib.new("ripemd160", hashlib.sha256(bytes.fromhex(G)).digest()).hexdigest()[:8]
    mined = {}
    for inner in ("pkh", "pk", "sh(wpkh"):
        desc = f"{inner}({G})" + (")" if inner.startswith("sh") else "")
        (block_hash,) = node.rpc("generatetodescriptor", 1, desc)
        mined[node.rpc("getblock", block_hash)["tx"][0]] = desc.replace(G, f"[{fingerprint}]{G}")
    result = node.rpc("scantxoutset", "start", [f"combo({G})", "raw(51)"])
    found = {u["txid"]: u["desc"] for u in result["unspents"]}
    assert found == {txid: descsum_create(desc) for txid, desc in mined.items()}
    assert all(descsum_check(d) for d in found.values())


def test_scantxoutset_ranged_tpub(node, vectors_dir):
    tpub, (key0, key1) = _bip84_tpub_and_keys(vectors_dir)
    (block_hash,) = node.rpc("generatetodescriptor", 1, f"wpkh({tpub}/0/1)")
    txid = node.rpc("getblock", block_hash)["tx"][0]
    fingerprint = hashlib.new("ripemd160", hashlib.sha256(b58check_decode(tpub)[45:78]).digest()).hexdigest()[:8]
    result = node.rpc("scantxoutset", "start", [{"desc": f"wpkh({tpub}/0/*)", "range": 5}])
    assert [(u["txid"], u["desc"]) for u in result["unspents"]] == [
        (txid, descsum_create(f"wpkh([{fingerprint}/0/1]{key1})"))]
    # The output pays the key BIP-0084 lists for m/84'/0'/0'/0/1.
    key_hash = hashlib.new("ripemd160", hashlib.sha256(bytes.fromhex(key1)).digest()).hexdigest()
    assert result["unspents"][0]["scriptPubKey"] == "0014" + key_hash
    assert node.rpc("scantxoutset", "start", [{"desc": f"wpkh({tpub}/0/*)", "range": [2, 5]}])["unspents"] == []
    assert node.rpc("scantxoutset", "start", [f"wpkh({tpub}/0/*)"])["unspents"][0]["txid"] == txid


def test_scantxoutset_status_abort_and_errors(node):
    assert node.rpc("scantxoutset", "status") is None
    assert node.rpc("scantxoutset", "abort") is False
    assert rpc_error(node, "scantxoutset", "begin") == (-8, "Invalid action 'begin'")
    assert rpc_error(node, "scantxoutset", "start") == (-1, "scanobjects argument is required for the start action")
    assert rpc_error(node, "scantxoutset", "start", [5]) == (
        -8, "Scan object needs to be either a string or an object")
    assert rpc_error(node, "scantxoutset", "start", [{"range": 1}]) == (
        -8, "Descriptor needs to be provided in scan object")
    assert rpc_error(node, "scantxoutset", "start", [{"desc": f"pkh({G})", "range": [5, 1]}]) == (
        -8, "Range specified as [begin,end] must not have begin after end")
    assert rpc_error(node, "scantxoutset", "start", [{"desc": f"pkh({G})", "range": [-1, 5]}]) == (
        -8, "Range should be greater or equal than 0")
    # An end of -1 is "too high" in Core too: (int64)-1 >> 31 != 0.
    assert rpc_error(node, "scantxoutset", "start", [{"desc": f"pkh({G})", "range": -1}]) == (
        -8, "End of range is too high")
    assert rpc_error(node, "scantxoutset", "start", ["foo()"]) == (-5, "'foo()' is not a valid descriptor function")
    assert rpc_error(node, "scantxoutset", "start", ["addr(nope)"]) == (-5, "Address is not valid")
    tpub = b58check_encode(bytes.fromhex("043587cf") + bytes(74))  # invalid key data
    assert rpc_error(node, "scantxoutset", "start", [f"pkh({tpub})"])[0] == -5
