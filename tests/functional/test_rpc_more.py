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
import threading
from decimal import Decimal

import pytest
from bitcoin.core import (
    COIN,
    CBlock,
    CBlockHeader,
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    CTransaction,
    Hash160,
    b2lx,
    lx,
    x,
)
from bitcoin.core.script import (
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    SIGHASH_ALL,
    CScript,
    SignatureHash,
)
from bitcoin.wallet import CBitcoinSecret

from coin.crypto.base58 import b58check_decode, b58check_encode
from coin.regtest.framework import TestNode
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


# -- 3. getdeploymentinfo --------------------------------------------------------------------


def test_getdeploymentinfo_buried_and_testdummy(node):
    tip = node.rpc("getbestblockhash")
    info = node.rpc("getdeploymentinfo")
    assert list(info) == ["hash", "height", "deployments"]
    assert info["hash"] == tip and info["height"] == node.rpc("getblockcount")
    deployments = info["deployments"]
    assert list(deployments) == ["bip34", "bip66", "bip65", "csv", "segwit", "testdummy"]  # no taproot
    assert deployments["segwit"] == {"type": "buried", "active": True, "height": 0}
    assert deployments["bip34"] == {"type": "buried", "active": True, "height": 1}
    genesis = node.rpc("getdeploymentinfo", node.rpc("getblockhash", 0))["deployments"]
    assert genesis["bip34"] == {"type": "buried", "active": True, "height": 1}  # active for the next block
    assert genesis["testdummy"] == {"type": "bip9", "active": False, "bip9": {
        "start_time": 0, "timeout": 9223372036854775807, "min_activation_height": 0,
        "status": "defined", "since": 0, "status_next": "defined"}}
    assert rpc_error(node, "getdeploymentinfo", "00" * 32) == (-5, "Block not found")


def test_getdeploymentinfo_signalling_statistics(node):
    # Regtest testdummy: window 144, threshold 108; STARTED from height 144. Block versions
    # are read back from the chain, so the statistics can be checked against them.
    height = node.rpc("getblockcount")
    if height < 150:
        node.rpc("generatetoaddress", 150 - height, P2WPKH)
    at = node.rpc("getblockhash", 149)
    dummy = node.rpc("getdeploymentinfo", at)["deployments"]["testdummy"]
    versions = [node.rpc("getblockheader", node.rpc("getblockhash", h))["version"] for h in range(144, 150)]
    signalled = "".join("#" if (v >> 28) & 1 and v >> 29 == 1 else "-" for v in versions)
    assert dummy["type"] == "bip9" and dummy["active"] is False
    assert dummy["bip9"] == {
        "bit": 28, "start_time": 0, "timeout": 9223372036854775807, "min_activation_height": 0,
        "status": "started", "since": 144, "status_next": "started",
        "statistics": {"period": 144, "elapsed": 6, "count": signalled.count("#"), "threshold": 108,
                       "possible": 144 - 108 >= 6 - signalled.count("#")},
        "signalling": signalled}
    assert signalled == "######"
    before = node.rpc("getdeploymentinfo", node.rpc("getblockhash", 143))["deployments"]["testdummy"]["bip9"]
    assert (before["status"], before["status_next"], before["since"]) == ("defined", "started", 0)


# -- 4. setmocktime -----------------------------------------------------------------------------


def test_setmocktime_moves_the_node_clock(node):
    assert rpc_error(node, "setmocktime", -1) == (-8, "Mocktime must be in the range [0, 9223372036], not -1.")
    assert rpc_error(node, "setmocktime", Decimal("1.5")) == OUT_OF_RANGE
    base = node.rpc("getblockheader", node.rpc("getbestblockhash"))["mediantime"]
    future = base + 10 * 24 * 3600
    try:
        assert node.rpc("setmocktime", future) is None
        uptime = node.rpc("uptime")
        assert uptime >= 10 * 24 * 3600 - 3600  # uptime is measured by the mocked clock
        (block_hash,) = node.rpc("generatetoaddress", 1, P2WPKH)
        assert node.rpc("getblockheader", block_hash)["time"] == future
    finally:
        assert node.rpc("setmocktime", 0) is None
    assert node.rpc("uptime") < 3600
    assert "setmocktime" not in node.rpc("help")  # hidden, as Core
    assert node.rpc("help", "setmocktime").startswith("setmocktime timestamp")


def test_setmocktime_is_regtest_only(tmp_path):
    main = TestNode(1, tmp_path / "main", chain="main").start()
    try:
        assert rpc_error(main, "setmocktime", 0) == (-1, "setmocktime is for regression testing (-regtest mode) only")
    finally:
        assert main.stop() == 0


# -- 5, 7. prioritisetransaction, savemempool, getblockstats ------------------------------------------

KEY = CBitcoinSecret.from_secret_bytes(b"\x07" * 32)


def _p2pkh(pub: bytes) -> CScript:
    return CScript([OP_DUP, OP_HASH160, Hash160(pub), OP_EQUALVERIFY, OP_CHECKSIG])


def _spend(prev_txid: str, n: int, outputs: list[tuple[int, CScript]]) -> CMutableTransaction:
    tx = CMutableTransaction([CMutableTxIn(COutPoint(lx(prev_txid), n))], [CMutableTxOut(v, s) for v, s in outputs])
    sighash = SignatureHash(_p2pkh(KEY.pub), tx, 0, SIGHASH_ALL)
    tx.vin[0].scriptSig = CScript([KEY.sign(sighash) + bytes([SIGHASH_ALL]), KEY.pub])
    return tx


@pytest.fixture(scope="module")
def spent_block(node):
    """A block holding a chain of two python-bitcoinlib transactions with known fees, and
    what the test knows about it: {hash, txs: [(CTransaction, fee)]}; prioritisation and
    savemempool are exercised while they wait in the mempool."""
    (cb_block,) = node.rpc("generatetodescriptor", 1, f"pkh({KEY.pub.hex()})")
    node.rpc("generatetoaddress", 100, P2WPKH)
    coinbase = node.rpc("getblock", cb_block, 2)["tx"][0]
    value = int(coinbase["vout"][0]["value"] * COIN)
    tx1 = _spend(coinbase["txid"], 0, [(value - 30_000 - 10_000, _p2pkh(KEY.pub)), (30_000, _p2pkh(KEY.pub))])
    tx2 = _spend(b2lx(tx1.GetTxid()), 0, [(value - 30_000 - 10_000 - 5_000, _p2pkh(KEY.pub))])
    txid1 = node.rpc("sendrawtransaction", tx1.serialize().hex())
    txid2 = node.rpc("sendrawtransaction", tx2.serialize().hex())
    missing = "ab" * 32
    # prioritisetransaction: in the pool and not (yet) in it.
    assert node.rpc("prioritisetransaction", txid1, None, 1234) is True
    assert node.rpc("prioritisetransaction", txid=missing, fee_delta=-7) is True
    assert node.rpc("getmempoolentry", txid1)["fees"]["modified"] == Decimal("0.00011234")
    assert node.rpc("getprioritisedtransactions") == dict(sorted({
        txid1: {"fee_delta": 1234, "in_mempool": True, "modified_fee": 11234},
        missing: {"fee_delta": -7, "in_mempool": False}}.items(), key=lambda kv: lx(kv[0])))
    assert rpc_error(node, "prioritisetransaction", txid1, 1, 5) == (
        -8, "Priority is no longer supported, dummy argument to prioritisetransaction must be 0.")
    assert rpc_error(node, "prioritisetransaction", txid1, 0, Decimal("0.5")) == OUT_OF_RANGE
    # savemempool writes Core's mempool.dat with both transactions.
    saved = node.rpc("savemempool")
    assert list(saved) == ["filename"] and saved["filename"].endswith("mempool.dat")
    data = open(saved["filename"], "rb").read()
    assert tx1.serialize() in data or len(data) > 2 * len(tx1.serialize())
    (block_hash,) = node.rpc("generatetoaddress", 1, P2WPKH)
    assert node.rpc("getblock", block_hash)["tx"][1:] == [txid1, txid2]
    node.rpc("prioritisetransaction", missing, 0, 7)  # back to zero: the delta is gone
    assert missing not in node.rpc("getprioritisedtransactions")
    return {"hash": block_hash, "txs": [(tx1, 10_000), (tx2, 5_000)]}


def test_getblockstats_against_the_known_transactions(node, spent_block):
    stats = node.rpc("getblockstats", spent_block["hash"])
    block = CBlock.deserialize(x(node.rpc("getblock", spent_block["hash"], 0)))
    txs = spent_block["txs"]
    sizes = [len(tx.serialize()) for tx, _ in txs]  # no witness: weight = 4 * size
    fees = [fee for _, fee in txs]
    feerates = [fee * 4 // (4 * size) for fee, size in zip(fees, sizes, strict=True)]
    outs = sum(len(tx.vout) for tx in block.vtx)
    header = node.rpc("getblockheader", spent_block["hash"])
    # Core's order: alphabetical, but for the utxo_* pairs.
    assert list(stats)[-4:] == ["utxo_increase", "utxo_size_inc", "utxo_increase_actual", "utxo_size_inc_actual"]
    assert list(stats)[:-4] == sorted(stats)[:-4]
    assert stats == {
        "avgfee": sum(fees) // 2, "avgfeerate": sum(fees) * 4 // (4 * sum(sizes)), "avgtxsize": sum(sizes) // 2,
        "blockhash": spent_block["hash"], "feerate_percentiles": stats["feerate_percentiles"],
        "height": header["height"], "ins": 2, "maxfee": max(fees), "maxfeerate": max(feerates),
        "maxtxsize": max(sizes), "medianfee": sum(fees) // 2, "mediantime": header["mediantime"],
        "mediantxsize": sum(sizes) // 2, "minfee": min(fees), "minfeerate": min(feerates), "mintxsize": min(sizes),
        "outs": outs, "subsidy": (50 * COIN) >> (header["height"] // 150), "swtotal_size": 0, "swtotal_weight": 0,
        "swtxs": 0, "time": header["time"], "total_out": sum(o.nValue for tx, _ in txs for o in tx.vout),
        "total_size": sum(sizes), "total_weight": 4 * sum(sizes), "totalfee": sum(fees), "txs": 3,
        "utxo_increase": outs - 2, "utxo_size_inc": stats["utxo_size_inc"],
        "utxo_increase_actual": outs - 2 - 1,  # the witness commitment (OP_RETURN) is unspendable
        "utxo_size_inc_actual": stats["utxo_size_inc_actual"]}
    # Percentiles by weight: tx2 is smaller, so the low percentiles take the lower feerate first.
    by_rate = sorted(zip(feerates, [4 * s for s in sizes], strict=True))
    total = sum(w for _, w in by_rate)
    expected, cumulative, i = [], 0, 0
    for rate, weight in by_rate:
        cumulative += weight
        while i < 5 and cumulative >= total * (0.1, 0.25, 0.5, 0.75, 0.9)[i]:
            expected.append(rate)
            i += 1
    assert stats["feerate_percentiles"] == expected
    # 41 = Core's per-UTXO overhead (outpoint, height, coinbase flag) on top of the output.
    created = sum(8 + 1 + len(o.scriptPubKey) + 41 for tx in block.vtx for o in tx.vout)
    spent = 2 * (8 + 1 + 25 + 41)
    unspendable = sum(8 + 1 + len(o.scriptPubKey) + 41 for o in block.vtx[0].vout if o.scriptPubKey[:1] == b"\x6a")
    assert stats["utxo_size_inc"] == created - spent
    assert stats["utxo_size_inc_actual"] == created - spent - unspendable
    assert node.rpc("getblockstats", header["height"], ["txs", "minfee", "blockhash"]) == {
        "blockhash": spent_block["hash"], "minfee": min(fees), "txs": 3}


def test_getblockstats_errors_and_genesis(node):
    tip = node.rpc("getblockcount")
    assert rpc_error(node, "getblockstats", -1) == (-8, "Target block height -1 is negative")
    assert rpc_error(node, "getblockstats", tip + 1) == (-8, f"Target block height {tip + 1} after current tip {tip}")
    assert rpc_error(node, "getblockstats", "00" * 32) == (-5, "Block not found")
    assert rpc_error(node, "getblockstats", 0, ["nope"]) == (-8, "Invalid selected statistic 'nope'")
    assert rpc_error(node, "getblockstats", Decimal("1.5")) == OUT_OF_RANGE
    genesis = node.rpc("getblockstats", 0)
    assert (genesis["txs"], genesis["ins"], genesis["utxo_increase_actual"], genesis["totalfee"]) == (1, 0, 0, 0)


def test_getchaintxstats(node, spent_block):
    tip = node.rpc("getblockheader", node.rpc("getbestblockhash"))
    stats = node.rpc("getchaintxstats")
    assert list(stats) == ["time", "txcount", "window_final_block_hash", "window_final_block_height",
                           "window_block_count", "window_interval", "window_tx_count", "txrate"]
    # Every block has one coinbase, and the spent block two more transactions.
    assert stats["txcount"] == tip["height"] + 1 + 2
    assert stats["window_block_count"] == tip["height"] - 1
    assert stats["window_final_block_hash"] == tip["hash"] and stats["time"] == tip["time"]
    first = node.rpc("getblockheader", node.rpc("getblockhash", 1))
    assert stats["window_interval"] == tip["mediantime"] - first["mediantime"]
    assert stats["window_tx_count"] == stats["txcount"] - 2
    two = node.rpc("getchaintxstats", 2, spent_block["hash"])
    assert two["window_tx_count"] == 3 + 1 and two["window_block_count"] == 2
    zero = node.rpc("getchaintxstats", 0)
    assert list(zero) == ["time", "txcount", "window_final_block_hash", "window_final_block_height",
                          "window_block_count"]
    message = "Invalid block count: should be between 0 and the block's height - 1"
    assert rpc_error(node, "getchaintxstats", tip["height"]) == (-8, message)
    assert rpc_error(node, "getchaintxstats", -1) == (-8, message)
    assert rpc_error(node, "getchaintxstats", None, "00" * 32) == (-5, "Block not found")


# -- 6. submitheader, verifychain --------------------------------------------------------------------


def test_submitheader(node):
    best = node.rpc("getbestblockhash")
    # A block mined on top of the tip but never submitted: its header alone is accepted.
    block_hex = node.rpc("generateblock", P2WPKH, [], False)["hex"]
    header = CBlockHeader.deserialize(x(block_hex)[:80])
    assert b2lx(header.hashPrevBlock) == best
    assert node.rpc("submitheader", block_hex[:160]) is None
    tips = {t["hash"]: t["status"] for t in node.rpc("getchaintips")}
    assert tips[b2lx(header.GetHash())] == "headers-only"
    assert node.rpc("getbestblockhash") == best
    assert node.rpc("submitheader", block_hex[:160]) is None  # known: still fine
    assert rpc_error(node, "submitheader", "00" * 79) == (-22, "Block header decode failed")
    assert rpc_error(node, "submitheader", "zz" * 80) == (-22, "Block header decode failed")
    orphan = CBlockHeader(nVersion=header.nVersion, hashPrevBlock=b"\x42" * 32, hashMerkleRoot=header.hashMerkleRoot,
                          nTime=header.nTime, nBits=header.nBits, nNonce=header.nNonce)
    assert rpc_error(node, "submitheader", orphan.serialize().hex()) == (
        -25, f"Must submit previous header ({'42' * 32}) first")
    nonce = header.nNonce
    while True:  # find a nonce whose hash misses regtest's target (about one in two)
        nonce = (nonce + 1) & 0xFFFFFFFF
        bad_pow = CBlockHeader(nVersion=header.nVersion, hashPrevBlock=header.hashPrevBlock,
                               hashMerkleRoot=header.hashMerkleRoot, nTime=header.nTime, nBits=header.nBits,
                               nNonce=nonce)
        if int.from_bytes(bad_pow.GetHash(), "little") > 0x7FFFFF << 232:
            break
    assert rpc_error(node, "submitheader", bad_pow.serialize().hex()) == (-25, "high-hash")
    node.rpc("submitblock", block_hex)
    assert node.rpc("getbestblockhash") == b2lx(header.GetHash())


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4], ids=lambda n: f"level-{n}")
def test_verifychain_levels(node, level):
    assert node.rpc("verifychain", level, 20) is True


def test_verifychain_defaults_and_all_blocks(node):
    assert node.rpc("verifychain") is True
    assert node.rpc("verifychain", 9, 0) is True  # level clamped to 4, every block
    assert rpc_error(node, "verifychain", Decimal("3.5"))[0] == -1


# -- 8. waitfor* ------------------------------------------------------------------------------------------


def _in_thread(fn, *args):
    out: dict = {}

    def run():
        try:
            out["result"] = fn(*args)
        except Exception as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_waitfor_timeouts_return_the_current_tip(node):
    tip = {"hash": node.rpc("getbestblockhash"), "height": node.rpc("getblockcount")}
    assert node.rpc("waitfornewblock", 50) == tip
    assert node.rpc("waitforblock", "00" * 32, 50) == tip
    assert node.rpc("waitforblockheight", tip["height"] + 5, 50) == tip
    assert node.rpc("waitforblockheight", tip["height"]) == tip  # already there: no wait
    assert node.rpc("waitforblock", tip["hash"]) == tip
    assert rpc_error(node, "waitfornewblock", -1) == (-1, "Negative timeout")
    help_text = node.rpc("help")
    assert all(m not in help_text for m in ("waitfornewblock", "waitforblock ", "waitforblockheight"))


def test_waitfor_wake_on_new_blocks(node):
    start = node.rpc("getblockcount")
    waiters = [_in_thread(node.client().call, "waitfornewblock"),
               _in_thread(node.client().call, "waitforblockheight", start + 2)]
    # The waiters hold their calls open while the node keeps answering others.
    node.wait_until(lambda: sum(1 for m in node.rpc("getrpcinfo")["active_commands"]
                                if m["method"].startswith("waitfor")) == 2)
    (first,) = node.rpc("generatetoaddress", 1, P2WPKH)
    waiters[0][0].join(60)
    assert waiters[0][1] == {"result": {"hash": first, "height": start + 1}}
    assert waiters[1][0].is_alive()
    (second,) = node.rpc("generatetoaddress", 1, P2WPKH)
    waiters[1][0].join(60)
    assert waiters[1][1] == {"result": {"hash": second, "height": start + 2}}
    # A block mined on top of `third` but not submitted yet: waitforblock ignores `third`.
    (third,) = node.rpc("generatetoaddress", 1, P2WPKH)
    block_hex = node.rpc("generateblock", P2WPKH, [], False)["hex"]
    target = b2lx(CBlockHeader.deserialize(x(block_hex)[:80]).GetHash())
    exact = _in_thread(node.client().call, "waitforblock", target, 600_000)
    node.wait_until(lambda: any(m["method"] == "waitforblock" for m in node.rpc("getrpcinfo")["active_commands"]))
    node.rpc("invalidateblock", third)
    node.rpc("reconsiderblock", third)  # two tip changes, neither the awaited block
    assert exact[0].is_alive()
    node.rpc("submitblock", block_hex)
    exact[0].join(60)
    assert exact[1] == {"result": {"hash": target, "height": start + 4}}


def test_waiters_return_at_shutdown(tmp_path):
    proc = TestNode(2, tmp_path / "w").start()
    tip = {"hash": proc.rpc("getbestblockhash"), "height": 0}
    waiter = _in_thread(proc.client().call, "waitfornewblock")
    proc.wait_until(lambda: any(m["method"] == "waitfornewblock" for m in proc.rpc("getrpcinfo")["active_commands"]))
    assert proc.stop() == 0
    waiter[0].join(60)
    assert waiter[1] == {"result": tip}
