"""coin.crypto.keys (WIF) against python-bitcoinlib's CBitcoinSecret."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coin.crypto.base58 import b58check_encode
from coin.crypto.der import SECP256K1_ORDER
from coin.crypto.keys import wif_decode, wif_encode
from coin.params import get_params

privkeys = st.integers(min_value=1, max_value=SECP256K1_ORDER - 1).map(lambda k: k.to_bytes(32, "big"))


@settings(max_examples=50)
@given(privkeys, st.booleans())
def test_wif_mainnet_matches_bitcoinlib(priv, compressed):
    import bitcoin
    from bitcoin.wallet import CBitcoinSecret

    bitcoin.SelectParams("mainnet")
    s = wif_encode(priv, get_params("main"), compressed)
    oracle = CBitcoinSecret.from_secret_bytes(priv, compressed)
    assert s == str(oracle)
    assert wif_decode(s) == (priv, compressed, 128)


@settings(max_examples=20)
@given(privkeys, st.booleans())
def test_wif_regtest_matches_bitcoinlib(priv, compressed):
    import bitcoin
    from bitcoin.wallet import CBitcoinSecret

    bitcoin.SelectParams("regtest")
    try:
        s = wif_encode(priv, get_params("regtest"), compressed)
        assert s == str(CBitcoinSecret.from_secret_bytes(priv, compressed))
        assert s[0] in ("c" if compressed else "9")
        assert wif_decode(s) == (priv, compressed, 239)
        assert wif_encode(priv, 239, compressed) == s
    finally:
        bitcoin.SelectParams("mainnet")


def test_known_wif():
    # The private key 1: its two well-known WIF forms.
    one = (1).to_bytes(32, "big")
    assert wif_encode(one, 128, False) == "5HpHagT65TZzG1PH3CSu63k8DbpvD8s5ip4nEB3kEsreAnchuDf"
    assert wif_encode(one, 128, True) == "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn"


@pytest.mark.parametrize("payload", [
    b"\x80" + bytes(32),                                   # key zero
    b"\x80" + SECP256K1_ORDER.to_bytes(32, "big"),         # key n
    b"\x80" + (1).to_bytes(32, "big") + b"\x02",           # bad compression flag
    b"\x80" + (1).to_bytes(32, "big") + b"\x01\x01",       # too long
    b"\x80" + (1).to_bytes(31, "big"),                     # too short
], ids=["zero", "order", "flag", "long", "short"])
def test_invalid_wif(payload):
    with pytest.raises(ValueError):
        wif_decode(b58check_encode(payload))


def test_wif_encode_rejects_bad_keys():
    with pytest.raises(ValueError):
        wif_encode(bytes(32), 128)
    with pytest.raises(ValueError):
        wif_encode((1).to_bytes(32, "big"), 256)
