"""The Bitcoin Core RPCs that bitcoind tools call and coind added late, on a real coind:
integer arguments (Core's getInt), scantxoutset, getdeploymentinfo, setmocktime,
prioritisetransaction / getprioritisedtransactions / savemempool, submitheader,
verifychain, getchaintxstats, getblockstats and the waitfor* methods.

Expected values come from python-bitcoinlib (an independent implementation) or from
other RPCs, never from the code under test.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from bitcoin.core import CTransaction, x
from coin.regtest.framework import TestNode

from coin.rpc.errors import RPCError

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
