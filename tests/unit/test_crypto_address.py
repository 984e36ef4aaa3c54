"""coin.crypto.address: scriptPubKey <-> address on main and regtest, python-bitcoinlib as
the oracle for Base58 and version-0 segwit addresses."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coin.crypto import bech32
from coin.crypto.address import (
    InvalidAddress,
    address_to_script,
    p2pkh_script,
    p2sh_script,
    p2tr_script,
    p2wpkh_script,
    p2wsh_script,
    parse_witness_program,
    script_to_address,
    witness_program_script,
)
from coin.crypto.base58 import b58check_encode
from coin.params import get_params

MAIN = get_params("main")
REGTEST = get_params("regtest")
h20 = st.binary(min_size=20, max_size=20)
h32 = st.binary(min_size=32, max_size=32)


@pytest.mark.parametrize("network", ["mainnet", "regtest"])
def test_against_bitcoinlib(network):
    import bitcoin

    bitcoin.SelectParams(network)
    try:
        _check_against_bitcoinlib(MAIN if network == "mainnet" else REGTEST)
    finally:
        bitcoin.SelectParams("mainnet")


def _check_against_bitcoinlib(net):
    from bitcoin.core.script import CScript
    from bitcoin.wallet import CBitcoinAddress

    @settings(max_examples=30)
    @given(h=h20, h32_=h32)
    def check(h, h32_):
        for script in (p2pkh_script(h), p2sh_script(h), p2wpkh_script(h), p2wsh_script(h32_)):
            addr = script_to_address(script, net)
            assert addr == str(CBitcoinAddress.from_scriptPubKey(CScript(script)))
            assert address_to_script(addr, net) == script
            assert CBitcoinAddress(addr).to_scriptPubKey() == script

    check()


@given(ver=st.integers(min_value=1, max_value=16), prog=st.binary(min_size=2, max_size=40))
def test_future_witness_versions_are_bech32m(ver, prog):
    script = witness_program_script(ver, prog)
    assert parse_witness_program(script) == (ver, prog)
    addr = script_to_address(script, REGTEST)
    assert addr.startswith("bcrt1")
    assert bech32.bech32_decode(addr)[2] is bech32.Encoding.BECH32M
    assert address_to_script(addr, REGTEST) == script


def test_p2tr_known():
    # BIP-0350's example: the generator's x coordinate as a taproot output key.
    x = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    assert script_to_address(p2tr_script(x), MAIN) == "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"


def test_known_mainnet_addresses():
    assert address_to_script("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", MAIN) == p2pkh_script(
        bytes.fromhex("62e907b15cbf27d5425399ebf6f0fb50ebb88f18"))
    assert script_to_address(p2wpkh_script(bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")),
                             MAIN) == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.mark.parametrize("script", [
    b"",
    bytes.fromhex("6a04deadbeef"),                                   # OP_RETURN
    bytes([0x21]) + b"\x02" + bytes(32) + b"\xac",                   # P2PK
    bytes.fromhex("5121") + b"\x02" + bytes(32) + bytes.fromhex("51ae"),  # bare multisig
    bytes([0, 21]) + bytes(21),                                      # v0 of an undefined length
    bytes([0x51, 1, 0]),                                             # 1-byte program
    bytes([0x51, 41]) + bytes(41),                                   # 41-byte program
    bytes([0x50, 20]) + bytes(20),                                   # OP_RESERVED is no version
    bytes([0x00, 0x4c, 20]) + bytes(20),                             # PUSHDATA1 is not a direct push
    p2pkh_script(bytes(20)) + b"\x00",                               # trailing byte
], ids=["empty", "op_return", "p2pk", "multisig", "v0-21", "v1-1", "v1-41", "op_reserved", "pushdata1",
        "p2pkh-trailing"])
def test_scripts_without_address(script):
    assert script_to_address(script, MAIN) is None


def test_anchor_output_has_address():
    # Pay-to-anchor (witness v1, 2 bytes 4e73) has a bech32m address, as in Core v28.
    assert script_to_address(bytes.fromhex("51024e73"), MAIN) == "bc1pfeessrawgf"


def test_wrong_network_and_garbage():
    main_p2pkh = script_to_address(p2pkh_script(bytes(20)), MAIN)
    reg_p2sh = script_to_address(p2sh_script(bytes(20)), REGTEST)
    main_wpkh = script_to_address(p2wpkh_script(bytes(20)), MAIN)
    for addr, params in ((main_p2pkh, REGTEST), (reg_p2sh, MAIN), (main_wpkh, REGTEST)):
        with pytest.raises(InvalidAddress):
            address_to_script(addr, params)
    bad_len = b58check_encode(b"\x00" + bytes(19))
    for bad in ("", "1", bad_len, main_p2pkh[:-1] + ("2" if main_p2pkh[-1] != "2" else "3"), "x" * 200,
                main_wpkh.upper()[:-1] + main_wpkh[-1]):
        with pytest.raises(InvalidAddress):
            address_to_script(bad, MAIN)
    assert isinstance(InvalidAddress("x"), ValueError)


def test_uppercase_segwit_accepted():
    addr = script_to_address(p2wsh_script(bytes(range(32))), MAIN)
    assert address_to_script(addr.upper(), MAIN) == p2wsh_script(bytes(range(32)))


def test_template_lengths_checked():
    for f, n in ((p2pkh_script, 20), (p2sh_script, 20), (p2wpkh_script, 20), (p2wsh_script, 32), (p2tr_script, 32)):
        with pytest.raises(ValueError):
            f(bytes(n + 1))
    with pytest.raises(ValueError):
        witness_program_script(17, bytes(20))
