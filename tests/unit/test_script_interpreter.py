"""The interpreter on transactions signed here (coin.crypto.ecc.sign), SegWit v0 paths
native and nested, the errors Core gives for each kind of breakage, and Core's
FindAndDelete edge cases (script_tests.cpp)."""

import pytest

from coin.crypto import ecc
from coin.crypto.hashes import hash160, sha256
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.script import (
    MANDATORY_SCRIPT_VERIFY_FLAGS,
    STANDARD_SCRIPT_VERIFY_FLAGS,
    Flags,
    PrecomputedTxData,
    ScriptError,
    verify_input,
    verify_transaction,
)
from coin.script import opcodes as op
from coin.script.errors import SCRIPT_ERROR_MESSAGES
from coin.script.interpreter import NO_CHECKER, eval_script, find_and_delete
from coin.script.sighash import legacy_sighash, segwit_v0_sighash
from coin.script.standard import Op, build_script

PRIV = [bytes([i]) * 32 for i in range(1, 4)]
PUB = [ecc.pubkey_from_privkey(k) for k in PRIV]
PUB_U = ecc.pubkey_from_privkey(PRIV[0], compressed=False)
AMOUNT = 50_000
STD = STANDARD_SCRIPT_VERIFY_FLAGS


def _tx(n_inputs=1):
    return Transaction(
        2, [TxIn(OutPoint(bytes([9 + i]) * 32, i), sequence=0xFFFFFFFE) for i in range(n_inputs)],
        [TxOut(AMOUNT - 1000, build_script([0, b"\x33" * 20]))], 0)


def _with_input(tx, index, **changes):
    inputs = list(tx.inputs)
    inputs[index] = inputs[index]._replace(**changes)
    return tx.replace(inputs=inputs)


def _code(e):
    try:
        e()
    except ScriptError as exc:
        return exc.code
    return "OK"


def _p2wpkh_code(pub):
    return build_script([Op(op.OP_DUP), Op(op.OP_HASH160), hash160(pub), Op(op.OP_EQUALVERIFY),
                         Op(op.OP_CHECKSIG)])


def _spend_p2wpkh(priv, pub, nested=False, hash_type=1, amount=AMOUNT):
    program = build_script([0, hash160(pub)])
    spk = build_script([Op(op.OP_HASH160), hash160(program), Op(op.OP_EQUAL)]) if nested else program
    tx = _tx()
    sighash = segwit_v0_sighash(tx, 0, _p2wpkh_code(pub), amount, hash_type)
    sig = ecc.sign(priv, sighash) + bytes([hash_type])
    tx = _with_input(tx, 0, script_sig=build_script([program]) if nested else b"",
                     witness=(sig, pub))
    return tx, [TxOut(AMOUNT, spk)]


@pytest.mark.parametrize("nested", [False, True], ids=["native", "p2sh"])
@pytest.mark.parametrize("hash_type", [1, 2, 3, 0x81, 0x82, 0x83])
def test_p2wpkh_signed(nested, hash_type):
    tx, spent = _spend_p2wpkh(PRIV[0], PUB[0], nested, hash_type)
    verify_input(tx, 0, spent, STD)
    verify_input(tx, 0, spent, MANDATORY_SCRIPT_VERIFY_FLAGS)


def test_p2wpkh_breakage():
    tx, spent = _spend_p2wpkh(PRIV[0], PUB[0])
    # BIP143 signs the amount: a different spent amount fails.
    assert _code(lambda: verify_input(tx, 0, [TxOut(AMOUNT + 1, spent[0].script_pubkey)],
                                      MANDATORY_SCRIPT_VERIFY_FLAGS)) == "EVAL_FALSE"
    assert _code(lambda: verify_input(tx, 0, [TxOut(AMOUNT + 1, spent[0].script_pubkey)],
                                      STD)) == "NULLFAIL"
    # A scriptSig on a native program.
    bad = _with_input(tx, 0, script_sig=b"\x00")
    assert _code(lambda: verify_input(bad, 0, spent, STD)) == "WITNESS_MALLEATED"
    # Three witness items.
    bad = _with_input(tx, 0, witness=(b"", *tx.inputs[0].witness))
    assert _code(lambda: verify_input(bad, 0, spent, STD)) == "WITNESS_PROGRAM_MISMATCH"
    # Without WITNESS the program is anyone-can-spend (WITNESS_UNEXPECTED needs WITNESS).
    verify_input(tx, 0, spent, Flags.P2SH)
    # Uncompressed key: WITNESS_PUBKEYTYPE under policy, fine by consensus.
    tx_u, spent_u = _spend_p2wpkh(PRIV[0], PUB_U)
    assert _code(lambda: verify_input(tx_u, 0, spent_u, STD)) == "WITNESS_PUBKEYTYPE"
    verify_input(tx_u, 0, spent_u, MANDATORY_SCRIPT_VERIFY_FLAGS)


def test_nested_p2wpkh_malleated():
    tx, spent = _spend_p2wpkh(PRIV[0], PUB[0], nested=True)
    # The scriptSig must be exactly one push of the program: a PUSHDATA1 form is not.
    program = build_script([0, hash160(PUB[0])])
    bad = _with_input(tx, 0, script_sig=bytes([0x4C, len(program)]) + program)
    assert _code(lambda: verify_input(bad, 0, spent, MANDATORY_SCRIPT_VERIFY_FLAGS)) \
        == "WITNESS_MALLEATED_P2SH"


def _spend_p2wsh_multisig(sign_with, codesep=False):
    ws = build_script([2, PUB[0], PUB[1], PUB[2], 3, Op(op.OP_CHECKMULTISIG)])
    if codesep:
        ws = build_script([Op(op.OP_CODESEPARATOR)]) + ws
    spk = build_script([0, sha256(ws)])
    tx = _tx()
    code = ws[1:] if codesep else ws
    sighash = segwit_v0_sighash(tx, 0, code, AMOUNT, 1)
    sigs = [ecc.sign(PRIV[i], sighash) + b"\x01" for i in sign_with]
    tx = _with_input(tx, 0, witness=(b"", *sigs, ws))
    return tx, [TxOut(AMOUNT, spk)]


def test_p2wsh_multisig():
    tx, spent = _spend_p2wsh_multisig([0, 2])
    verify_input(tx, 0, spent, STD)
    # Signatures out of key order fail (and NULLFAIL reports the non-empty signatures).
    tx, spent = _spend_p2wsh_multisig([2, 0])
    assert _code(lambda: verify_input(tx, 0, spent, MANDATORY_SCRIPT_VERIFY_FLAGS)) == "EVAL_FALSE"
    assert _code(lambda: verify_input(tx, 0, spent, STD)) == "NULLFAIL"
    # In witness scripts the scriptCode starts after the last executed OP_CODESEPARATOR.
    tx, spent = _spend_p2wsh_multisig([0, 1], codesep=True)
    verify_input(tx, 0, spent, STD)
    # Wrong witness script: program mismatch; no witness at all: empty.
    tx, spent = _spend_p2wsh_multisig([0, 1])
    bad = _with_input(tx, 0, witness=(*tx.inputs[0].witness[:-1], b"\x51"))
    assert _code(lambda: verify_input(bad, 0, spent, STD)) == "WITNESS_PROGRAM_MISMATCH"
    bad = _with_input(tx, 0, witness=())
    assert _code(lambda: verify_input(bad, 0, spent, STD)) == "WITNESS_PROGRAM_WITNESS_EMPTY"


def test_legacy_p2pkh_and_verify_transaction():
    tx = _tx(2)
    spent = []
    sigs = []
    pre = PrecomputedTxData(tx)
    for i in range(2):
        spk = build_script([Op(op.OP_DUP), Op(op.OP_HASH160), hash160(PUB[i]),
                            Op(op.OP_EQUALVERIFY), Op(op.OP_CHECKSIG)])
        spent.append(TxOut(AMOUNT, spk))
        sigs.append(ecc.sign(PRIV[i], legacy_sighash(tx, i, spk, 1, pre)) + b"\x01")
    for i in range(2):
        tx = _with_input(tx, i, script_sig=build_script([sigs[i], PUB[i]]))
    verify_transaction(tx, spent, STD)
    swapped = [spent[1], spent[0]]
    with pytest.raises(ScriptError) as info:
        verify_transaction(tx, swapped, STD)
    assert info.value.code == "EQUALVERIFY" and info.value.input_index == 0


def test_unexpected_witness_and_future_programs():
    tx = _with_input(_tx(), 0, witness=(b"\x01",))
    assert _code(lambda: verify_input(tx, 0, [TxOut(1, b"\x51")], STD)) == "WITNESS_UNEXPECTED"
    for spk in (build_script([1, b"\x44" * 32]), build_script([16, b"\x44" * 2])):
        verify_input(tx, 0, [TxOut(1, spk)], MANDATORY_SCRIPT_VERIFY_FLAGS)
        assert _code(lambda spk=spk: verify_input(tx, 0, [TxOut(1, spk)], STD)) \
            == "DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM"
    with pytest.raises(NotImplementedError):
        verify_input(tx, 0, [TxOut(1, build_script([1, b"\x44" * 32]))], Flags.P2SH | Flags.WITNESS
                     | Flags.TAPROOT)


def test_error_messages_are_cores():
    tx = _tx()
    with pytest.raises(ScriptError) as info:
        verify_input(tx, 0, [TxOut(1, b"\x00")], STD)
    assert info.value.code == "EVAL_FALSE"
    assert info.value.message == \
        "Script evaluated without error but finished with a false/empty top stack element"
    assert all(isinstance(v, str) and v for v in SCRIPT_ERROR_MESSAGES.values())


def test_limits():
    def run(script, stack=None):
        return _code(lambda: eval_script(stack or [], script, STD, NO_CHECKER, 0))

    assert run(b"\x61" * 201) == "OK"
    assert run(b"\x61" * 202) == "OP_COUNT"
    assert run(b"\x51" * 1000) == "OK"
    assert run(b"\x51" * 1001) == "STACK_SIZE"
    assert run(b"\x4d\x09\x02" + b"\x00" * 521) == "PUSH_SIZE"
    assert run(b"\x61" * 10001) == "SCRIPT_SIZE"
    assert run(b"\x00\x63\x7e\x68") == "DISABLED_OPCODE"  # even unexecuted
    assert run(b"\x00\x63\x65\x68") == "BAD_OPCODE"       # OP_VERIF even unexecuted
    assert run(b"\x00\x63\xba\x68") == "OK"                # CHECKSIGADD only when executed
    assert run(b"\xba") == "BAD_OPCODE"


# Core's script_tests.cpp FindAndDelete cases: (script, pattern, expected, found).
FIND_AND_DELETE = [
    ("0302ff03", "0302ff03", "", 1),
    ("0302ff030302ff03", "0302ff03", "", 2),
    ("0302ff030302ff03", "02", "0302ff030302ff03", 0),
    ("0302ff030302ff03", "ff", "0302ff030302ff03", 0),
    ("0302ff030302ff03", "03", "02ff0302ff03", 2),
    ("02feed5169", "feed51", "02feed5169", 0),
    ("02feed5169", "02feed51", "69", 1),
    ("516902feed5169", "feed51", "516902feed5169", 0),
    ("516902feed5169", "02feed51", "516969", 1),
    ("00005151", "0051", "0051", 1),
    ("000051005151", "0051", "0051", 2),
    ("0003feed", "03feed", "00", 1),
    ("0003feed", "00", "03feed", 1),
]


@pytest.mark.parametrize("script, pattern, expected, found", FIND_AND_DELETE,
                         ids=[f"{s}-{p}" for s, p, _, _ in FIND_AND_DELETE])
def test_find_and_delete(script, pattern, expected, found):
    assert find_and_delete(bytes.fromhex(script), bytes.fromhex(pattern)) == \
        (bytes.fromhex(expected), found)
