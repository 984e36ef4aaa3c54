"""coin-wallet against a real regtest coind: mined coins and maturity, a payment to an
address made outside the project (python-bitcoinlib), change, the fee asked for,
balances after confirmation, bumpfee, a reorg (invalidateblock) and a restore.

The wallet runs in process (coin.wallet.cli.main, exactly what the coin-wallet script
calls); the node is a real coind process on loopback, reached through its cookie.
"""

import json
from decimal import Decimal

import bitcoin
import pytest
from bitcoin.wallet import CBitcoinSecret, P2WPKHBitcoinAddress

from coin.wallet import cli

COIN = 100_000_000


@pytest.fixture
def wallet(regtest_node, monkeypatch, capsys):
    monkeypatch.setenv(cli.PASSPHRASE_ENV, "functional pass")
    base = ["-regtest", f"-datadir={regtest_node.datadir}", f"-rpcport={regtest_node.rpc_port}"]

    def run(*argv, name="default", expect=0):
        code = cli.main([*base, f"-wallet={name}", *argv, "--json"])
        out, err = capsys.readouterr()
        assert code == expect, err
        return json.loads(out, parse_float=Decimal) if expect == 0 else err

    return run


@pytest.fixture
def outside_address():
    """A P2WPKH address of a key held by python-bitcoinlib, not by this project."""
    bitcoin.SelectParams("regtest")
    try:
        key = CBitcoinSecret.from_secret_bytes(b"\x11" * 32)
        return str(P2WPKHBitcoinAddress.from_scriptPubKey(
            bitcoin.core.script.CScript([0, bitcoin.core.Hash160(key.pub)])))
    finally:
        bitcoin.SelectParams("mainnet")


def _sats(x) -> int:
    return int(Decimal(x) * COIN)


def test_wallet_lifecycle_on_regtest(regtest_node, wallet, outside_address):
    node = regtest_node
    wallet("create")
    mine = wallet("getnewaddress")["address"]
    node.generatetoaddress(101, mine)
    bal = wallet("getbalance")
    assert (bal["balance"], bal["confirmed"], bal["immature"]) == (50, 50, 5000)

    # pay an outside address at 5 sat/vB
    sent = wallet("send", outside_address, "10", "--feerate", "5")
    assert sent["txid"] in node.getrawmempool()
    raw = node.getrawtransaction(sent["txid"])
    decoded = node.decoderawtransaction(raw)
    fee = _sats(sent["fee"])
    assert 5 * decoded["vsize"] <= fee <= 5 * decoded["vsize"] + 8
    outputs = {o["scriptPubKey"].get("address"): _sats(o["value"]) for o in decoded["vout"]}
    assert outputs.pop(outside_address) == 10 * COIN
    (change_address, change), = outputs.items()
    assert change == 50 * COIN - 10 * COIN - fee
    assert all(i["sequence"] == 0xFFFFFFFD for i in decoded["vin"])

    # bumpfee wants old + max(node's incrementalrelayfee, the wallet's 5 sat/vB) (Core)
    err = wallet("bumpfee", sent["txid"], "--feerate", "9", expect=1)
    assert "Insufficient total fee" in err and "must be at least" in err
    assert sent["txid"] in node.getrawmempool()
    # bumpfee replaces it in the node's mempool
    bumped = wallet("bumpfee", sent["txid"], "--feerate", "12")
    pool = node.getrawmempool()
    assert bumped["txid"] in pool and sent["txid"] not in pool
    new_fee = _sats(bumped["fee"])
    assert new_fee > fee and _sats(bumped["origfee"]) == fee
    decoded2 = node.decoderawtransaction(node.getrawtransaction(bumped["txid"]))
    assert {(i["txid"], i["vout"]) for i in decoded2["vin"]} == {(i["txid"], i["vout"]) for i in decoded["vin"]}

    # confirmation: the outside payment leaves, change stays
    node.generatetoaddress(1, outside_address)
    bal = wallet("getbalance")
    assert bal["unconfirmed"] == 0
    assert _sats(bal["confirmed"]) == 2 * 50 * COIN - 10 * COIN - new_fee
    assert bal["immature"] == 4950

    # a payment from a second wallet, confirmed in a block that a reorg then removes
    wallet("create", name="payer")
    payer_addr = wallet("getnewaddress", name="payer")["address"]
    node.generatetoaddress(101, payer_addr)
    receive = wallet("getnewaddress")["address"]
    paid = wallet("send", receive, "3", "--feerate", "2", name="payer")
    block = node.generatetoaddress(1, payer_addr)[0]
    before = wallet("getbalance")
    assert paid["txid"] in [t["txid"] for t in wallet("listtransactions")["transactions"]]
    node.invalidateblock(block)
    after = wallet("getbalance")
    assert _sats(before["confirmed"]) - _sats(after["confirmed"]) == 3 * COIN
    # the disconnected block's payment is back in the node's mempool: unconfirmed now
    assert paid["txid"] in node.getrawmempool()
    assert _sats(after["unconfirmed"]) == 3 * COIN and after["balance"] == before["balance"] - 3

    # restore the words into another wallet: same balance, same history
    node.reconsiderblock(block)
    bal = wallet("getbalance")
    words = wallet("dumpmnemonic")["mnemonic"]
    wallet("restore", "--mnemonic", words, name="restored")
    assert wallet("getbalance", name="restored") == bal
    history = {(t["txid"], t["category"], t["amount"]) for t in wallet("listtransactions")["transactions"]}
    restored = {(t["txid"], t["category"], t["amount"])
                for t in wallet("listtransactions", name="restored")["transactions"]}
    assert restored == history
