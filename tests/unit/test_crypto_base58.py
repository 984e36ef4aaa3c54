"""coin.crypto.base58 against python-bitcoinlib and known strings."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coin.crypto.base58 import b58check_decode, b58check_encode, b58decode, b58encode
from coin.crypto.hashes import hash160


@given(st.binary(max_size=80))
def test_round_trip_and_oracle(data):
    from bitcoin import base58 as oracle

    s = b58encode(data)
    assert s == oracle.encode(data)
    assert b58decode(s) == data
    assert b58check_decode(b58check_encode(data)) == data


@pytest.mark.parametrize("data,text", [(b"", ""), (b"\x00", "1"), (b"\x00\x00\x01", "112"),
                                       (b"\x39", "z"), (b"\x3a", "21"), (b"hello world", "StV1DL6CwTryKyV")])
def test_known(data, text):
    assert b58encode(data) == text
    assert b58decode(text) == data


def test_genesis_pubkey_address(vectors_dir):
    # Satoshi's genesis output key, read from the genesis coinbase in coin.params.
    from coin.params import get_params

    spk = get_params("main").genesis.txs[0].outputs[0].script_pubkey
    pubkey = spk[1:66]
    assert b58check_encode(b"\x00" + hash160(pubkey)) == "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


@pytest.mark.parametrize("bad", ["0", "O", "I", "l", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa ", "é"])
def test_bad_characters(bad):
    with pytest.raises(ValueError):
        b58decode(bad)


def test_bad_checksum_and_short():
    good = b58check_encode(b"\x00" + bytes(20))
    last = good[-1]
    bad = good[:-1] + ("2" if last != "2" else "3")
    with pytest.raises(ValueError):
        b58check_decode(bad)
    with pytest.raises(ValueError):
        b58check_decode("111")
    with pytest.raises(ValueError):
        b58check_decode("")
