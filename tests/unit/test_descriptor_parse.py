"""Descriptor parsing, expansion (BIP-0032 derivation) and inference with a provider.

Oracles: the BIP-0032 and BIP-0084 test vectors (read from ../shared/vectors/bips) and
python-bitcoinlib's script and address builders.
"""

from __future__ import annotations

import re

import pytest
from bitcoin.core import Hash160
from bitcoin.core.script import OP_CHECKMULTISIG, OP_CHECKSIG, CScript
from bitcoin.wallet import P2PKHBitcoinAddress, P2SHBitcoinAddress, P2WPKHBitcoinAddress

from coin.crypto.base58 import b58check_decode, b58check_encode
from coin.crypto.hashes import hash160
from coin.params import get_params
from coin.script.descriptor import (
    InvalidDescriptor,
    Provider,
    descriptor_to_script,
    descsum_check,
    descsum_create,
    infer_descriptor,
    parse_descriptor,
)

MAIN = get_params("main")
REGTEST = get_params("regtest")
G = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
G_UNCOMPRESSED = ("0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                  "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")


def _bip32_chains(vectors_dir):
    """[(chain path text, xpub, xprv)] of every BIP-0032 valid test vector, in file order."""
    text = (vectors_dir / "bips" / "bip-0032.mediawiki").read_text()
    chains = re.findall(r"\* Chain (m[^\n]*)\n\*\* ext pub: (\w+)\n\*\* ext prv: (\w+)", text)
    assert len(chains) >= 15
    return [(c.replace("<sub>H</sub>", "h"), pub, prv) for c, pub, prv in chains]


def _key_of(ext: str) -> bytes:
    return b58check_decode(ext)[45:78]


def _expanded_key(desc: str, params, pos: int = 0) -> bytes:
    provider = Provider()
    parse_descriptor(desc, params).expand(pos, provider)
    (key,) = provider.pubkeys.values()
    return key


def test_bip32_vectors_public_and_private_derivation(vectors_dir):
    chains = _bip32_chains(vectors_dir)
    checked_public = 0
    for (parent_path, parent_pub, parent_prv), (path, pub, _) in zip(chains, chains[1:], strict=False):
        if not path.startswith(parent_path + "/"):
            continue  # the next vector's master key
        step = path[len(parent_path) + 1:]
        assert _expanded_key(f"pkh({parent_prv}/{step})", MAIN) == _key_of(pub)
        if not step.endswith("h"):
            assert _expanded_key(f"pkh({parent_pub}/{step})", MAIN) == _key_of(pub)
            checked_public += 1
        else:
            with pytest.raises(InvalidDescriptor, match="Cannot derive script without private keys"):
                parse_descriptor(f"pkh({parent_pub}/{step})", MAIN).expand(0)
    assert checked_public >= 4
    # A whole path from the master key in one descriptor.
    master_prv = chains[0][2]
    last_path, last_pub, _ = chains[5]
    assert last_path == "m/0h/1/2h/2/1000000000"
    assert _expanded_key(f"wpkh({master_prv}/0h/1/2'/2/1000000000)", MAIN) == _key_of(last_pub)


def test_bip84_account_xpub_ranged_wpkh(vectors_dir):
    text = (vectors_dir / "bips" / "bip-0084.mediawiki").read_text()
    zpub = re.search(r"xpub\s+=\s+(zpub\w+)", text).group(1)
    expected = re.findall(r"pubkey\s+=\s+([0-9a-f]{66})\n\s+address\s+=\s+(bc1\w+)", text)
    # The same key under the network's xpub version bytes.
    xpub = b58check_encode(MAIN.xpub_prefix + b58check_decode(zpub)[4:])
    desc = parse_descriptor(f"wpkh({xpub}/0/*)", MAIN)
    assert desc.is_range
    for pos, (pubkey, address) in enumerate(expected[:2]):
        (script,) = desc.expand(pos)
        assert script == P2WPKHBitcoinAddress(address).to_scriptPubKey()
        assert _expanded_key(f"wpkh({xpub}/0/{pos})", MAIN) == bytes.fromhex(pubkey)
    change_pub, change_addr = expected[2]
    assert descriptor_to_script(f"wpkh({xpub}/1/0)", MAIN) == P2WPKHBitcoinAddress(change_addr).to_scriptPubKey()
    # Inference prints the key with its origin: the xpub's fingerprint and the path.
    provider = Provider()
    (script,) = desc.expand(1, provider)
    fingerprint = hash160(b58check_decode(xpub)[45:78])[:4].hex()
    assert infer_descriptor(script, MAIN, provider) == descsum_create(f"wpkh([{fingerprint}/0/1]{expected[1][0]})")
    # An explicit origin replaces the fingerprint and prefixes the path.
    provider = Provider()
    parse_descriptor(f"wpkh([deadbeef/84'/0h/0']{xpub}/0/*)", MAIN).expand(0, provider)
    assert infer_descriptor(script_for(expected[0][0]), MAIN, provider) == descsum_create(
        f"wpkh([deadbeef/84h/0h/0h/0/0]{expected[0][0]})")


def script_for(pubkey_hex: str) -> bytes:
    return bytes(CScript([0, Hash160(bytes.fromhex(pubkey_hex))]))


def test_scripts_agree_with_python_bitcoinlib():
    key = bytes.fromhex(G)
    p2wpkh = CScript([0, Hash160(key)])
    assert parse_descriptor(f"pk({G})", REGTEST).expand(0) == [bytes(CScript([key, OP_CHECKSIG]))]
    assert descriptor_to_script(f"pkh({G})", REGTEST) == P2PKHBitcoinAddress.from_pubkey(key).to_scriptPubKey()
    assert descriptor_to_script(f"wpkh({G})", REGTEST) == bytes(p2wpkh)
    sh_wpkh = P2SHBitcoinAddress.from_redeemScript(p2wpkh).to_scriptPubKey()
    assert descriptor_to_script(f"sh(wpkh({G}))", REGTEST) == sh_wpkh
    assert parse_descriptor(f"combo({G})", REGTEST).expand(0) == [
        bytes(CScript([key, OP_CHECKSIG])), P2PKHBitcoinAddress.from_pubkey(key).to_scriptPubKey(),
        bytes(p2wpkh), sh_wpkh]
    # An uncompressed key has no segwit forms.
    assert len(parse_descriptor(f"combo({G_UNCOMPRESSED})", REGTEST).expand(0)) == 2
    other = bytes.fromhex("02" + "c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5")
    multi = CScript([1, other, key, 2, OP_CHECKMULTISIG])
    assert descriptor_to_script(f"sh(multi(1,{other.hex()},{G}))", REGTEST) == (
        P2SHBitcoinAddress.from_redeemScript(multi).to_scriptPubKey())
    sorted_multi = CScript([1, *sorted([other, key]), 2, OP_CHECKMULTISIG])
    assert descriptor_to_script(f"sortedmulti(1,{G},{other.hex()})", REGTEST) == bytes(sorted_multi)


def test_inference_with_the_expanding_provider():
    provider = Provider()
    scripts = parse_descriptor(f"combo({G})", REGTEST).expand(0, provider)
    fingerprint = hash160(bytes.fromhex(G))[:4].hex()
    assert [infer_descriptor(s, REGTEST, provider) for s in scripts] == [
        descsum_create(f"{f}([{fingerprint}]{G})") for f in ("pk", "pkh", "wpkh")] + [
        descsum_create(f"sh(wpkh([{fingerprint}]{G}))")]
    # Without the provider, the same scripts infer as Core prints them in transactions.
    assert infer_descriptor(scripts[0], REGTEST) == descsum_create(f"pk({G})")
    assert infer_descriptor(scripts[1], REGTEST).startswith("addr(")
    # addr() and raw() learn no keys.
    provider = Provider()
    (script,) = parse_descriptor(f"raw({scripts[1].hex()})", REGTEST).expand(0, provider)
    assert infer_descriptor(script, REGTEST, provider).startswith("addr(")


@pytest.mark.parametrize("desc,message", [
    ("foo(00)", "'foo(00)' is not a valid descriptor function"),
    ("pk(zz)", "key 'zz' is not valid"),
    ("pk(02" + "00" * 32 + ")", "Pubkey '02" + "00" * 32 + "' is invalid"),
    ("wpkh(" + G_UNCOMPRESSED + ")", "Uncompressed keys are not allowed"),
    ("sh(" + G + ")", "A function is needed within P2SH"),
    ("wpkh(wpkh(" + G + "))", "key 'wpkh(" + G + ")' is not valid"),
    ("sh(sh(wpkh(" + G + ")))", "Can only have sh() at top level"),
    ("combo(" + G + ")#abcdefgh", "Provided checksum 'abcdefgh' does not match computed checksum"),
    ("raw(00)#abc", "Expected 8 character checksum, not 3 characters"),
    ("raw(00)#a#b", "Multiple '#' symbols"),
    ("addr(notanaddress)", "Address is not valid"),
    ("raw(0g)", "Raw script is not hex"),
    ("pk([deadbee]" + G + ")", "Fingerprint is not 4 bytes (7 characters instead of 8 characters)"),
    ("multi(4," + G + "," + G + ")", "Multisig threshold cannot be larger than the number of keys"),
    ("multi(1," + ",".join([G] * 4) + ")", "Cannot have 4 pubkeys in bare multisig; only at most 3 pubkeys"),
], ids=["unknown-function", "bad-key", "invalid-pubkey", "uncompressed-in-wpkh", "bare-key-in-sh",
        "nested-wpkh", "nested-sh", "wrong-checksum", "short-checksum", "two-hashes", "bad-address",
        "raw-not-hex", "short-fingerprint", "threshold-too-high", "bare-multisig-too-big"])
def test_parse_errors_carry_cores_text(desc, message):
    with pytest.raises(InvalidDescriptor) as e:
        parse_descriptor(desc, REGTEST)
    assert str(e.value).startswith(message)


def test_checksummed_descriptors_parse_and_key_paths(vectors_dir):
    master_xpub = _bip32_chains(vectors_dir)[0][1]
    tpub = b58check_encode(REGTEST.xpub_prefix + b58check_decode(master_xpub)[4:])
    desc = descsum_create(f"pkh({G})")
    assert descsum_check(desc)
    assert descriptor_to_script(desc, REGTEST) == descriptor_to_script(f"pkh({G})", REGTEST)
    with pytest.raises(InvalidDescriptor, match="Ranged descriptor not accepted"):
        descriptor_to_script("pkh(" + tpub + "/*)", REGTEST)
    with pytest.raises(InvalidDescriptor, match="Key path value 2147483648 is out of range"):
        parse_descriptor("pkh(" + tpub + "/2147483648)", REGTEST)
    with pytest.raises(InvalidDescriptor, match="Key path value 'x' is not a valid uint32"):
        parse_descriptor("pkh(" + tpub + "/x)", REGTEST)
    # A mainnet xpub is not a key on regtest.
    with pytest.raises(InvalidDescriptor, match="is not valid"):
        parse_descriptor(f"pkh({master_xpub})", REGTEST)

