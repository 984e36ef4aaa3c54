"""Standard templates (Core's Solver), ASM rendering, script building."""

import pytest
from bitcoin.core.script import CScript, CScriptOp
from hypothesis import given
from hypothesis import strategies as st

from coin.crypto import ecc
from coin.crypto.hashes import hash160, sha256
from coin.script import opcodes as op
from coin.script.standard import (
    Op,
    build_script,
    classify,
    is_p2sh,
    is_push_only,
    is_unspendable,
    is_witness_program,
    script_to_asm,
)

PUB = ecc.pubkey_from_privkey(b"\x01" * 32, compressed=True)
PUB_U = ecc.pubkey_from_privkey(b"\x01" * 32, compressed=False)
H20 = hash160(PUB)
H32 = sha256(b"script")


def p2pkh(h):
    return build_script([Op(op.OP_DUP), Op(op.OP_HASH160), h, Op(op.OP_EQUALVERIFY), Op(op.OP_CHECKSIG)])


@pytest.mark.parametrize("script, kind, solutions", [
    (p2pkh(H20), "pubkeyhash", [H20]),
    (build_script([PUB, Op(op.OP_CHECKSIG)]), "pubkey", [PUB]),
    (build_script([PUB_U, Op(op.OP_CHECKSIG)]), "pubkey", [PUB_U]),
    (build_script([Op(op.OP_HASH160), H20, Op(op.OP_EQUAL)]), "scripthash", [H20]),
    (build_script([0, H20]), "witness_v0_keyhash", [H20]),
    (build_script([0, H32]), "witness_v0_scripthash", [H32]),
    (build_script([1, H32]), "witness_v1_taproot", [H32]),
    (build_script([2, H20]), "witness_unknown", [b"\x02", H20]),
    (bytes.fromhex("51024e73"), "anchor", []),
    (build_script([0, b"\x00" * 21]), "nonstandard", []),
    (build_script([Op(op.OP_RETURN), b"hello"]), "nulldata", []),
    (build_script([Op(op.OP_RETURN)]), "nulldata", []),
    (build_script([Op(op.OP_RETURN), Op(op.OP_DUP)]), "nonstandard", []),
    (build_script([1, PUB, PUB_U, 2, Op(op.OP_CHECKMULTISIG)]), "multisig",
     [b"\x01", PUB, PUB_U, b"\x02"]),
    (build_script([3, PUB, PUB_U, 2, Op(op.OP_CHECKMULTISIG)]), "nonstandard", []),
    (build_script([1, PUB, 2, Op(op.OP_CHECKMULTISIG)]), "nonstandard", []),
    (build_script([1, b"\x05" + PUB[1:], 1, Op(op.OP_CHECKMULTISIG)]), "nonstandard", []),
    (b"", "nonstandard", []),
    (bytes.fromhex("4c"), "nonstandard", []),
])
def test_classify(script, kind, solutions):
    assert classify(script) == (kind, solutions)


def test_predicates():
    assert is_p2sh(build_script([Op(op.OP_HASH160), H20, Op(op.OP_EQUAL)]))
    assert not is_p2sh(p2pkh(H20))
    assert is_witness_program(build_script([16, b"\x00\x01"])) == (16, b"\x00\x01")
    assert is_witness_program(build_script([0, b"\x00"])) is None
    assert is_unspendable(b"\x6a") and is_unspendable(b"\x51" * 10001) and not is_unspendable(b"\x51")
    assert is_push_only(build_script([1, b"ab", -1, 16])) and not is_push_only(b"\x61")
    assert not is_push_only(b"\x02\x00")  # truncated


def test_asm_like_core():
    assert script_to_asm(p2pkh(H20)) == f"OP_DUP OP_HASH160 {H20.hex()} OP_EQUALVERIFY OP_CHECKSIG"
    assert script_to_asm(build_script([0, -1, 16, 17, 1000, b"\xff\xff\xff\xff"])) == "0 -1 16 17 1000 -2147483647"
    assert script_to_asm(bytes.fromhex("b1b2ba bbff".replace(" ", ""))) == \
        "OP_CHECKLOCKTIMEVERIFY OP_CHECKSEQUENCEVERIFY OP_CHECKSIGADD OP_UNKNOWN OP_INVALIDOPCODE"
    assert script_to_asm(bytes.fromhex("5102aa")) == "1 [error]"


def test_asm_sighash_decode():
    sig = ecc.sign(b"\x02" * 32, b"\x03" * 32)
    script_sig = build_script([sig + b"\x01", PUB])
    assert script_to_asm(script_sig, attempt_sighash_decode=True) == f"{sig.hex()}[ALL] {PUB.hex()}"
    assert script_to_asm(script_sig) == f"{sig.hex()}01 {PUB.hex()}"
    odd = build_script([sig + b"\x83"])
    assert script_to_asm(odd, True) == f"{sig.hex()}[SINGLE|ANYONECANPAY]"
    undefined = build_script([sig + b"\x05"])
    assert script_to_asm(undefined, True) == f"{sig.hex()}05"
    # OP_RETURN data is never decoded as a signature.
    assert script_to_asm(build_script([Op(op.OP_RETURN), sig + b"\x01"]), True) == f"OP_RETURN {sig.hex()}01"


_items = st.lists(st.one_of(
    st.integers(-(2**40), 2**40),
    st.binary(max_size=300),
    st.sampled_from([Op(op.OP_DUP), Op(op.OP_CHECKSIG), Op(op.OP_IF), Op(op.OP_NOP10)]),
), max_size=10)


@given(_items)
def test_build_script_matches_bitcoinlib(items):
    # bitcoinlib: CScriptOp for opcodes; plain ints are number pushes, as ours.
    theirs = CScript([CScriptOp(int(x)) if isinstance(x, Op) else x for x in items])
    assert build_script(items) == bytes(theirs)


def test_build_script_rejects_other_types():
    with pytest.raises(TypeError):
        build_script(["text"])
    with pytest.raises(TypeError):
        build_script([True])
