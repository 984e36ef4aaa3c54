"""Signature hashes against an independent implementation: python-bitcoinlib.

Random transactions (hypothesis) are serialized, parsed by both libraries, and every
legacy and BIP-0143 signature hash must agree byte for byte, for every hash type
(including undefined ones and ANYONECANPAY), OP_CODESEPARATORs in the scriptCode and
the SIGHASH_SINGLE-without-output quirk.
"""

import struct

from bitcoin.core import CTransaction
from bitcoin.core.script import (
    SIGVERSION_WITNESS_V0,
    CScript,
    RawSignatureHash,
    SignatureHash,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.script.sighash import (
    SIGHASH_SINGLE_BUG_HASH,
    PrecomputedTxData,
    legacy_sighash,
    segwit_v0_sighash,
)

# Script pieces: small pushes, a few opcodes, and plenty of OP_CODESEPARATOR (0xab).
_piece = st.one_of(
    st.sampled_from([b"\xab", b"\xac", b"\x00", b"\x51", b"\x76", b"\xa9", b"\x87", b"\x63", b"\x68"]),
    st.binary(min_size=1, max_size=75).map(lambda d: bytes([len(d)]) + d),
    st.binary(min_size=76, max_size=120).map(lambda d: bytes([0x4C, len(d)]) + d),
)
scripts = st.lists(_piece, max_size=8).map(b"".join)

_txin = st.builds(
    lambda h, i, s, q: TxIn(OutPoint(h, i), s, q),
    st.binary(min_size=32, max_size=32),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=40),
    st.sampled_from([0, 1, 0xFFFFFFFE, 0xFFFFFFFF]) | st.integers(0, 0xFFFFFFFF),
)
_txout = st.builds(TxOut, st.integers(0, 21_000_000 * 100_000_000), st.binary(max_size=40))
transactions = st.builds(
    Transaction,
    st.integers(0, 0x7FFFFFFF),
    st.lists(_txin, min_size=1, max_size=5),
    st.lists(_txout, min_size=0, max_size=5),
    st.integers(0, 0x7FFFFFFF),
)
hash_types = st.one_of(
    st.sampled_from([1, 2, 3, 0x81, 0x82, 0x83, 0, 4, 0x80, 0x43, 0xC3]),
    st.integers(-(2**31), 2**31 - 1),
)


def _oracle_tx(tx: Transaction) -> CTransaction:
    return CTransaction.deserialize(tx.to_bytes(witness=False))


@settings(max_examples=150, deadline=None)
@given(tx=transactions, script=scripts, hash_type=hash_types, data=st.data())
def test_legacy_sighash_matches_bitcoinlib(tx, script, hash_type, data):
    index = data.draw(st.integers(0, len(tx.inputs) - 1))
    expected, err = RawSignatureHash(CScript(script), _oracle_tx(tx), index, hash_type)
    got = legacy_sighash(tx, index, script, hash_type)
    assert got == expected
    if err is not None:
        assert got == SIGHASH_SINGLE_BUG_HASH
    assert legacy_sighash(tx, index, script, hash_type, PrecomputedTxData(tx)) == expected


@settings(max_examples=150, deadline=None)
@given(tx=transactions, script=scripts, hash_type=hash_types,
       amount=st.integers(0, 2**62), data=st.data())
def test_segwit_v0_sighash_matches_bitcoinlib(tx, script, hash_type, amount, data):
    index = data.draw(st.integers(0, len(tx.inputs) - 1))
    expected = SignatureHash(CScript(script), _oracle_tx(tx), index, hash_type, amount=amount,
                             sigversion=SIGVERSION_WITNESS_V0)
    pre = PrecomputedTxData(tx)
    assert segwit_v0_sighash(tx, index, script, amount, hash_type) == expected
    assert segwit_v0_sighash(tx, index, script, amount, hash_type, pre) == expected


def test_single_bug_hash_is_one():
    tx = Transaction(1, [TxIn(OutPoint(b"\x11" * 32, 0)), TxIn(OutPoint(b"\x22" * 32, 1))],
                     [TxOut(5, b"\x51")], 0)
    assert legacy_sighash(tx, 1, b"\x51", 3) == SIGHASH_SINGLE_BUG_HASH
    assert legacy_sighash(tx, 0, b"\x51", 3) != SIGHASH_SINGLE_BUG_HASH
    # The full 32-bit hash type is hashed, not just its low byte.
    assert legacy_sighash(tx, 0, b"\x51", 1) != legacy_sighash(tx, 0, b"\x51", 0x101)
    assert struct.pack("<i", -1) == struct.pack("<I", 0xFFFFFFFF)
