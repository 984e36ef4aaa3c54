"""coin.wallet.bip32: paths, derivation rules, serialisation, no secrets in repr.

The BIP's own vectors are in tests/vectors/test_bip32_bip39.py; here the `mnemonic`
package's independent master-key code and libsecp256k1 (coincurve) are oracles.
"""

import coincurve
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mnemonic import Mnemonic

from coin.params import get_params
from coin.wallet.bip32 import (
    HARDENED,
    ExtendedKey,
    InvalidChildKey,
    decode_extended_key,
    format_path,
    parse_path,
    version_for,
)

MAIN = get_params("main")
REGTEST = get_params("regtest")
H = HARDENED


@pytest.mark.parametrize(
    "text,want",
    [
        ("m", ()),
        ("m/0", (0,)),
        ("m/84'/1'/0'/0/5", (84 | H, 1 | H, H, 0, 5)),
        ("m/84h/1H/0'/1/7", (84 | H, 1 | H, H, 1, 7)),
        ("0/5", (0, 5)),
        ("m/2147483647'", (0xFFFFFFFF,)),
    ],
)
def test_parse_path(text, want):
    assert parse_path(text) == want


@pytest.mark.parametrize(
    "text", ["m/", "m//1", "m/x", "m/-1", "m/2147483648", "m/1''", "m/01", "n/1", "m/1/ 2", "m/\u0661"]
)
def test_parse_path_rejects(text):
    with pytest.raises(ValueError):
        parse_path(text)


def test_format_path_round_trip():
    path = (84 | H, 1 | H, H, 0, 5)
    assert format_path(path) == "m/84'/1'/0'/0/5"
    assert parse_path(format_path(path)) == path


@settings(max_examples=25, deadline=None)
@given(seed=st.one_of(st.binary(min_size=64, max_size=64), st.binary(min_size=16, max_size=64)))
def test_master_matches_mnemonic_package(seed):
    node = ExtendedKey.from_seed(seed)
    if len(seed) == 64:  # the mnemonic package only takes BIP-0039's 64-byte seeds
        assert node.xprv(MAIN) == Mnemonic.to_hd_master_key(seed)
        assert node.xprv(REGTEST) == Mnemonic.to_hd_master_key(seed, testnet=True)
    assert node.public_key == coincurve.PrivateKey(node.key).public_key.format(True)


@settings(max_examples=25, deadline=None)
@given(seed=st.binary(min_size=16, max_size=64), index=st.integers(0, H - 1))
def test_public_derivation_matches_private(seed, index):
    node = ExtendedKey.from_seed(seed).child(7 | H)
    child = node.child(index)
    assert node.neuter().child(index) == child.neuter()
    assert child.public_key == coincurve.PrivateKey(child.key).public_key.format(True)
    assert child.parent_fingerprint == node.fingerprint
    assert child.depth == 2 and child.child_number == index


def test_hardened_from_public_refused():
    pub = ExtendedKey.from_seed(bytes(16)).neuter()
    with pytest.raises(ValueError, match="hardened"):
        pub.child(H)
    with pytest.raises(ValueError):
        pub.xprv(MAIN)


def test_seed_length_checked():
    with pytest.raises(ValueError):
        ExtendedKey.from_seed(bytes(15))
    with pytest.raises(ValueError):
        ExtendedKey.from_seed(bytes(65))


def test_invalid_child_error_is_a_value_error():
    assert issubclass(InvalidChildKey, ValueError)


def test_repr_and_str_hide_secrets():
    node = ExtendedKey.from_seed(bytes(range(32))).derive("m/1'/2")
    for text in (repr(node), str(node), repr(node.neuter())):
        assert node.key.hex() not in text
        assert node.chain_code.hex() not in text
        assert node.xprv(MAIN) not in text
        assert str(list(node.key)) not in text


def test_network_prefixes_and_slip132():
    node = ExtendedKey.from_seed(bytes(range(32)))
    assert node.xprv(MAIN).startswith("xprv") and node.xpub(MAIN).startswith("xpub")
    assert node.xprv(REGTEST).startswith("tprv") and node.xpub(REGTEST).startswith("tpub")
    assert node.xpub(MAIN, "p2wpkh").startswith("zpub")
    assert node.xpub(MAIN, "p2sh-p2wpkh").startswith("ypub")
    assert node.xprv(REGTEST, "p2wpkh").startswith("vprv")
    assert node.xpub(REGTEST, "p2sh-p2wpkh").startswith("upub")
    assert version_for(MAIN, True) == MAIN.xprv_prefix
    key, version = decode_extended_key(node.xpub(REGTEST, "p2wpkh"))
    assert key == node.neuter() and version.name == "vpub" and version.script_type == "p2wpkh"


def test_parse_checks_network():
    node = ExtendedKey.from_seed(bytes(range(32)))
    assert ExtendedKey.from_string(node.xprv(REGTEST), REGTEST) == node
    with pytest.raises(ValueError, match="another network"):
        ExtendedKey.from_string(node.xprv(MAIN), REGTEST)
    with pytest.raises(ValueError, match="78 bytes"):
        from coin.crypto.base58 import b58check_encode

        decode_extended_key(b58check_encode(node.to_bytes(MAIN.xprv_prefix)[:-1]))


def test_to_bytes_refuses_mismatched_version():
    node = ExtendedKey.from_seed(bytes(range(32)))
    with pytest.raises(ValueError):
        node.to_bytes(MAIN.xpub_prefix)
    with pytest.raises(ValueError):
        node.neuter().to_bytes(MAIN.xprv_prefix)


def test_max_depth():
    node = ExtendedKey(bytes(31) + b"\x01", bytes(32), depth=255, parent_fingerprint=b"\x01" * 4,
                       child_number=1)
    with pytest.raises(ValueError, match="depth"):
        node.child(0)
