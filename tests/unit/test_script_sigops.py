"""Sigop counting against python-bitcoinlib (GetSigOpCount) and Core's rules."""

from bitcoin.core.script import CScript
from hypothesis import given
from hypothesis import strategies as st

from coin.crypto.hashes import hash160, sha256
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.script import Flags
from coin.script import opcodes as op
from coin.script.sigops import (
    count_p2sh_sigops,
    count_sigops,
    count_witness_sigops,
    get_legacy_sigop_count,
    get_p2sh_sigop_count,
    get_transaction_sigop_cost,
)
from coin.script.standard import Op, build_script

_piece = st.one_of(
    st.sampled_from([b"\xac", b"\xad", b"\xae", b"\xaf", b"\x51", b"\x60", b"\x53", b"\x00", b"\x4f"]),
    st.binary(max_size=20).map(lambda d: bytes([len(d)]) + d),
)
_scripts = st.lists(_piece, max_size=12).map(b"".join)


@given(_scripts)
def test_count_matches_bitcoinlib(script):
    # (bitcoinlib's accurate mode is broken: it decodes the CHECKMULTISIG opcode itself.)
    assert count_sigops(script, False) == CScript(script).GetSigOpCount(False)


@given(_scripts)
def test_accurate_count_is_at_most_inaccurate(script):
    assert count_sigops(script, True) <= count_sigops(script, False)


def test_accurate_count():
    assert count_sigops(bytes([0x53, 0xAE]), True) == 3
    assert count_sigops(bytes([0x60, 0xAF]), True) == 16
    assert count_sigops(bytes([0x53, 0xAE]), False) == 20
    assert count_sigops(bytes([0x00, 0xAE]), True) == 20  # OP_0 is not OP_1..OP_16
    assert count_sigops(bytes([0x01, 0x03, 0xAE]), True) == 20  # a push of 3 is not OP_3
    assert count_sigops(bytes([0x52, 0xAC, 0xAE]), True) == 1 + 20


def test_truncated_push_stops_counting():
    assert count_sigops(b"\xac\xac\x05\xac", False) == 2


def _p2sh(redeem):
    return build_script([Op(op.OP_HASH160), hash160(redeem), Op(op.OP_EQUAL)])


def test_p2sh_counts():
    redeem = build_script([2, b"\x02" * 33, b"\x03" * 33, 2, Op(op.OP_CHECKMULTISIG)])
    spk = _p2sh(redeem)
    assert count_p2sh_sigops(spk, build_script([0, b"sig", redeem])) == 2
    assert count_p2sh_sigops(spk, build_script([0, b"sig"]) + b"\x61" + build_script([redeem])) == 0
    assert count_p2sh_sigops(spk, b"\x02\x00") == 0  # truncated
    tx = Transaction(1, [TxIn(OutPoint(b"\x01" * 32, 0), build_script([0, redeem]))],
                     [TxOut(1, b"\xac\xae")], 0)
    spent = [TxOut(5, spk)]
    assert get_legacy_sigop_count(tx) == 1 + 20  # the pushed redeem script is data
    assert get_p2sh_sigop_count(tx, spent) == 2
    assert get_transaction_sigop_cost(tx, spent, Flags.P2SH) == (21 + 2) * 4
    assert get_transaction_sigop_cost(tx, spent, Flags.NONE) == 21 * 4


def test_witness_counts():
    ws = build_script([1, b"\x02" * 33, 1, Op(op.OP_CHECKMULTISIG), Op(op.OP_CHECKSIG)])
    p2wsh = build_script([0, sha256(ws)])
    p2wpkh = build_script([0, b"\x11" * 20])
    flags = Flags.P2SH | Flags.WITNESS
    assert count_witness_sigops(b"", p2wsh, (b"", ws), flags) == 2
    assert count_witness_sigops(b"", p2wsh, (), flags) == 0
    assert count_witness_sigops(b"", p2wpkh, (b"s", b"k"), flags) == 1
    assert count_witness_sigops(b"", p2wpkh, (b"s", b"k"), Flags.P2SH) == 0
    nested = build_script([p2wpkh])
    assert count_witness_sigops(nested, _p2sh(p2wpkh), (b"s", b"k"), flags) == 1
    assert count_witness_sigops(nested + b"\x61", _p2sh(p2wpkh), (b"s", b"k"), flags) == 0
    future = build_script([1, b"\x22" * 32])
    assert count_witness_sigops(b"", future, (b"s",), flags) == 0
    tx = Transaction(2, [TxIn(OutPoint(b"\x01" * 32, 0), b"", witness=(b"", ws))],
                     [TxOut(1, b"")], 0)
    assert get_transaction_sigop_cost(tx, [TxOut(5, p2wsh)], flags) == 2
