"""coin.wallet.cli: the coin-wallet command line, in process.

The node is test_wallet_sync's FakeNode, handed to the CLI by replacing `make_rpc`
(the real client is exercised by the functional test); offline behaviour uses the real
client against a port nothing listens on.
"""

import json
import socket
from decimal import Decimal

import pytest
from test_wallet_sync import OTHER, SUBSIDY, FakeNode

from coin.crypto.address import address_to_script, script_to_address
from coin.params import get_params
from coin.wallet import cli, crypter
from coin.wallet.spend import COIN

REGTEST = get_params("regtest")
WORDS = "legal winner thank year wave sausage worth useful legal winner thank yellow"


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch):
    monkeypatch.setattr(crypter, "MIN_SCRYPT_N", 2**10)
    monkeypatch.setattr(crypter, "DEFAULT_SCRYPT_N", 2**10)
    monkeypatch.setenv(cli.PASSPHRASE_ENV, "secret pass")


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def run(tmp_path, capsys):
    def go(*argv, expect=0):
        code = cli.main(["-regtest", f"-datadir={tmp_path}", *argv])
        out, err = capsys.readouterr()
        assert code == expect, (out, err)
        if expect:
            assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
            assert "Traceback" not in err
            return err
        if "--json" in argv:
            obj = json.loads(out, parse_float=Decimal)
            assert isinstance(obj, dict)
            return obj
        return out
    return go


@pytest.fixture
def node(monkeypatch):
    fake = FakeNode()
    monkeypatch.setattr(cli, "make_rpc", lambda config: fake)
    return fake


def test_offline_create_address_info_and_node_unreachable(run, tmp_path):
    port = _free_port()
    created = run(f"-rpcport={port}", "create", "--json")
    path = tmp_path / "regtest" / "wallets" / "default.sqlite"
    assert created["path"] == str(path) and path.is_file() and created["birthday"] == 0
    addr = run(f"-rpcport={port}", "getnewaddress", "--json")["address"]
    assert addr.startswith("bcrt1q") and addr != created["address"]
    legacy = run(f"-rpcport={port}", "getnewaddress", "--type", "legacy", "--json")["address"]
    assert address_to_script(legacy, REGTEST)[:3] == b"\x76\xa9\x14"
    p2sh = run(f"-rpcport={port}", "getnewaddress", "--type=p2sh-segwit", "--json")["address"]
    assert address_to_script(p2sh, REGTEST)[:2] == b"\xa9\x14"
    info = run(f"-rpcport={port}", "info", "--json")
    assert info["network"] == "regtest" and len(info["accounts"]) == 3
    err = run(f"-rpcport={port}", "getbalance", "--json", expect=1)
    assert "Could not connect" in err and str(port) in err
    # the file holds no words; dumpmnemonic shows 12 of them
    words = run(f"-rpcport={port}", "dumpmnemonic", "--json")["mnemonic"].split()
    assert len(words) == 12
    assert " ".join(words).encode() not in path.read_bytes()


def test_errors_are_one_line(run, node, monkeypatch):
    assert "no wallet" in run("getbalance", expect=1)
    run("create")
    assert "already exists" in run("create", expect=1)
    monkeypatch.setenv(cli.PASSPHRASE_ENV, "wrong")
    assert "wrong passphrase" in run("dumpmnemonic", expect=1)
    monkeypatch.setenv(cli.PASSPHRASE_ENV, "secret pass")
    assert "Insufficient funds" in run("send", script_to_address(OTHER, REGTEST), "1", expect=1)
    assert "invalid" in run("send", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "1", expect=1).lower()
    assert "Invalid amount" in run("send", script_to_address(OTHER, REGTEST), "0.000000001", expect=1)
    assert "out of range" in run("send", script_to_address(OTHER, REGTEST), "-1", expect=1)
    assert "non-wallet" in run("bumpfee", "11" * 32, expect=1)
    assert "invalid choice" in run("frobnicate", expect=1)
    assert "invalid wallet name" in run("-wallet=../x", "info", expect=1)
    # a negative birthday is refused up front (it used to make every later sync fail
    # with "the node's tip kept changing")
    assert "--birthday" in run("-wallet=neg", "restore", "--mnemonic", WORDS, "--birthday", "-5", expect=1)
    assert "--birthday" in run("-wallet=neg", "create", "--birthday", "-1", expect=1)
    assert "no wallet" in run("-wallet=neg", "info", expect=1)
    assert "Error" in cli_main_error(["-nosuchflag", "info"])


def cli_main_error(argv):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        assert cli.main(argv) == 1
    return buf.getvalue()


def test_receive_send_bump_restore(run, node, tmp_path):
    run("create", "--birthday", "0")
    addr = run("getnewaddress", "--json")["address"]
    for _ in range(2):
        node.mine(address_to_script(addr, REGTEST), txs=[])
    for _ in range(100):
        node.mine(OTHER, txs=[])
    bal = run("getbalance", "--json")
    assert set(bal) == {"balance", "confirmed", "unconfirmed", "immature"}
    assert (bal["balance"], bal["confirmed"], bal["unconfirmed"], bal["immature"]) == (100, 100, 0, 0)
    outside = script_to_address(OTHER, REGTEST)
    sent = run("send", outside, "12.5", "--feerate", "4", "--json")
    assert set(sent) == {"txid", "fee"}
    tx = node.mempool[sent["txid"]]
    fee_sat = int(sent["fee"] * COIN)
    assert fee_sat >= 4 * tx.vsize and fee_sat <= 4 * tx.vsize + 8
    bumped = run("bumpfee", sent["txid"], "--feerate", "9", "--json")
    assert bumped["origfee"] == sent["fee"] and bumped["fee"] > sent["fee"]
    assert list(node.mempool) == [bumped["txid"]]
    third = script_to_address(bytes.fromhex("0014" + "22" * 20), REGTEST)
    many = run("sendmany", f"{outside}=1", f"{third}=2", "--json")
    assert many["txid"] in node.mempool
    node.mine(OTHER)
    bal = run("getbalance", "--json")
    expected = 2 * SUBSIDY - int(Decimal("15.5") * COIN) - int(bumped["fee"] * COIN) - int(many["fee"] * COIN)
    assert int(bal["confirmed"] * COIN) == expected and bal["unconfirmed"] == 0
    txs = run("listtransactions", "--json")["transactions"]
    assert [t["category"] for t in txs].count("send") == 2
    unspent = run("listunspent", "--json")["unspent"]
    assert sum(int(u["amount"] * COIN) for u in unspent) == expected
    # restore the same words elsewhere: same balance and history
    words = run("dumpmnemonic", "--json")["mnemonic"]
    run("-wallet=copy", "restore", "--mnemonic", words, "--json")
    bal2 = run("-wallet=copy", "getbalance", "--json")
    assert bal2 == bal
    txs2 = run("-wallet=copy", "listtransactions", "--json")["transactions"]
    assert sorted((t["txid"], t["category"], t["amount"]) for t in txs2) == \
        sorted((t["txid"], t["category"], t["amount"]) for t in txs)
    synced = run("-wallet=copy", "sync", "--json")
    assert synced["height"] == node.height and synced["blocks"] == 0


def test_sendmany_json_form(run, node):
    run("restore", "--mnemonic", WORDS)
    addr = run("getnewaddress", "--json")["address"]
    node.mine(address_to_script(addr, REGTEST), txs=[])
    for _ in range(100):
        node.mine(OTHER, txs=[])
    a1 = script_to_address(bytes.fromhex("0014" + "33" * 20), REGTEST)
    a2 = script_to_address(bytes.fromhex("0014" + "44" * 20), REGTEST)
    res = run("sendmany", json.dumps({a1: 0.5, a2: "0.25"}), "--json")
    tx = node.mempool[res["txid"]]
    values = {script_to_address(o.script_pubkey, REGTEST): o.value for o in tx.outputs}
    assert values[a1] == COIN // 2 and values[a2] == COIN // 4

