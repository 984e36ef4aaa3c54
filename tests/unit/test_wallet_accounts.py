"""coin.wallet.accounts: BIP-0084/49/44 vectors from the BIP texts, scripts, gap limit.

The BIP-0084 and BIP-0049 values are parsed from ../shared/vectors/bips/*.mediawiki;
python-bitcoinlib (an independent implementation) re-encodes the addresses.
"""

import re

import bitcoin
import pytest
from bitcoin.core import CScript
from bitcoin.wallet import CBitcoinAddress, CBitcoinSecret

from coin.crypto.hashes import hash160
from coin.crypto.keys import wif_encode
from coin.params import get_params
from coin.wallet.accounts import (
    CHANGE,
    GAP_LIMIT,
    RECEIVE,
    Account,
    GapWindow,
    ScriptType,
    account_path,
    scan_chain,
)
from coin.wallet.bip32 import HARDENED, ExtendedKey
from coin.wallet.bip39 import mnemonic_to_seed

MAIN = get_params("main")
REGTEST = get_params("regtest")


def _pre_block(text: str) -> dict[str, list[str]]:
    """`name = value` lines of the <pre> block under a BIP's "Test vectors" heading."""
    section = re.split(r"^==\s*Test vectors\s*==$", text, flags=re.M | re.I)[1]
    block = section.split("<pre>", 1)[1].split("</pre>", 1)[0]
    out: dict[str, list[str]] = {}
    for name, value in re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", block, flags=re.M):
        out.setdefault(name, []).append(value)
    return out


@pytest.fixture(scope="module")
def bip84(vectors_dir):
    return _pre_block((vectors_dir / "bips" / "bip-0084.mediawiki").read_text())


@pytest.fixture(scope="module")
def bip49(vectors_dir):
    return _pre_block((vectors_dir / "bips" / "bip-0049.mediawiki").read_text())


def _master(words: str) -> ExtendedKey:
    return ExtendedKey.from_seed(mnemonic_to_seed(words))


def test_bip84_vectors(bip84):
    master = _master(bip84["mnemonic"][0])
    assert master.xprv(MAIN, "p2wpkh") == bip84["rootpriv"][0]
    assert master.xpub(MAIN, "p2wpkh") == bip84["rootpub"][0]
    account = Account.from_master(master, MAIN, ScriptType.P2WPKH, 0)
    assert account.slip132_xprv() == bip84["xpriv"][0]
    assert account.slip132_xpub() == bip84["xpub"][0]
    # Three addresses, in the BIP's order: receive 0, receive 1, change 0.
    expected = list(zip(bip84["privkey"], bip84["pubkey"], bip84["address"], strict=True))
    assert len(expected) == 3
    for (chain, index), (wif, pubkey, address) in zip(
        [(RECEIVE, 0), (RECEIVE, 1), (CHANGE, 0)], expected, strict=True
    ):
        derived = account.derive(chain, index)
        assert derived.address == address
        assert derived.pubkey.hex() == pubkey
        assert wif_encode(account.private_key(chain, index), MAIN) == wif
        assert derived.redeem_script is None
        assert derived.path == (84 | HARDENED, HARDENED, HARDENED, chain, index)


def test_bip84_watch_only_from_zpub(bip84):
    account = Account.from_xpub(bip84["xpub"][0], MAIN, ScriptType.P2WPKH, 0)
    assert not account.can_sign
    assert [account.derive(RECEIVE, i).address for i in (0, 1)] == bip84["address"][:2]
    with pytest.raises(ValueError):
        account.private_key(RECEIVE, 0)


def test_bip49_vectors_on_test_network(bip49):
    # The BIP's vectors are for testnet (coin type 1, uprv/upub); regtest shares them.
    master = _master(bip49["masterseedWords"][0])
    assert master.xprv(REGTEST, "p2sh-p2wpkh") == bip49["masterseed"][0].split()[0]
    account = Account.from_master(master, REGTEST, ScriptType.P2SH_P2WPKH, 0)
    assert account.slip132_xprv() == bip49["account0Xpriv"][0].split()[0]
    assert account.slip132_xpub() == bip49["account0Xpub"][0].split()[0]
    derived = account.derive(RECEIVE, 0)
    priv = account.private_key(RECEIVE, 0)
    assert "0x" + priv.hex() == bip49["account0recvPrivateKeyHex"][0]
    assert wif_encode(priv, REGTEST) == bip49["account0recvPrivateKey"][0]
    assert "0x" + derived.pubkey.hex() == bip49["account0recvPublicKeyHex"][0]
    assert derived.key_hash.hex() in bip49["keyhash"][0]
    assert derived.redeem_script.hex() in bip49["scriptSig"][0]
    assert hash160(derived.redeem_script).hex() in bip49["addressBytes"][0]
    # "address = base58check(prefix | addressBytes) = 2Mww... (testnet)": the last value.
    assert derived.address == bip49["address"][0].rsplit("=", 1)[-1].split()[0]


def test_bip44_first_address_mainnet():
    master = _master("abandon " * 11 + "about")
    account = Account.from_master(master, MAIN, ScriptType.P2PKH, 0)
    derived = account.derive(RECEIVE, 0)
    assert derived.path_str == "m/44'/0'/0'/0/0"
    assert derived.address == "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA"
    assert derived.script_code == derived.script_pubkey


@pytest.mark.parametrize("script_type", list(ScriptType), ids=lambda s: s.value)
def test_addresses_agree_with_python_bitcoinlib(script_type):
    bitcoin.SelectParams("mainnet")
    account = Account.from_master(_master("legal winner thank year wave sausage worth "
                                          "useful legal winner thank yellow"), MAIN, script_type)
    for chain in (RECEIVE, CHANGE):
        for index in range(3):
            derived = account.derive(chain, index)
            oracle = CBitcoinAddress(derived.address)
            assert bytes(oracle.to_scriptPubKey()) == derived.script_pubkey
            secret = CBitcoinSecret.from_secret_bytes(account.private_key(chain, index))
            assert bytes(secret.pub) == derived.pubkey
            if script_type is ScriptType.P2SH_P2WPKH:
                assert CScript(derived.redeem_script).is_witness_v0_keyhash()


def test_account_path_uses_coin_type():
    assert account_path(ScriptType.P2WPKH, MAIN, 3) == (84 | HARDENED, HARDENED, 3 | HARDENED)
    assert account_path(ScriptType.P2PKH, REGTEST) == (44 | HARDENED, 1 | HARDENED, HARDENED)
    assert ScriptType.from_purpose(49) is ScriptType.P2SH_P2WPKH
    with pytest.raises(ValueError):
        account_path(ScriptType.P2WPKH, MAIN, HARDENED)


def test_account_rejects_wrong_depth():
    master = _master("abandon " * 11 + "about")
    with pytest.raises(ValueError, match="depth 3"):
        Account(master, MAIN, ScriptType.P2WPKH)


def test_repr_hides_keys():
    account = Account.from_master(_master("abandon " * 11 + "about"), MAIN, ScriptType.P2WPKH)
    assert "prv" not in repr(account)
    assert account.slip132_xprv() not in repr(account)


def test_gap_window():
    window = GapWindow()
    assert window.end == GAP_LIMIT
    assert list(window.mark_used(0)) == [GAP_LIMIT]
    assert window.mark_used(0) == range(GAP_LIMIT + 1, GAP_LIMIT + 1)
    assert list(window.mark_used(5)) == list(range(GAP_LIMIT + 1, GAP_LIMIT + 6))
    assert len(window.mark_used(3)) == 0  # lower than the highest used: no change
    assert window.end == 5 + 1 + GAP_LIMIT


@pytest.mark.parametrize("used,want_derived,want_highest", [
    (set(), GAP_LIMIT, -1),
    ({0}, GAP_LIMIT + 1, 0),
    ({3, 19}, 19 + 1 + GAP_LIMIT, 19),
    ({3, 19, 39}, 39 + 1 + GAP_LIMIT, 39),
    ({3, 40}, GAP_LIMIT + 4, 3),  # 40 lies beyond the gap after 3: not discovered
])
def test_scan_chain_gap_limit(used, want_derived, want_highest):
    account = Account.from_master(_master("abandon " * 11 + "about"), REGTEST, ScriptType.P2WPKH)
    used_scripts = {account.derive(RECEIVE, i).script_pubkey for i in used}
    found, highest = scan_chain(lambda i: account.derive(RECEIVE, i), used_scripts.__contains__)
    assert len(found) == want_derived
    assert highest == want_highest
    assert [a.index for a in found] == list(range(want_derived))
