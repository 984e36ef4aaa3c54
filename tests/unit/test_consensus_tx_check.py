"""CheckTransaction: Core's BADTX vectors, every reason by name, python-bitcoinlib as oracle."""

import json

import bitcoin.core as bc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coin.consensus.constants import MAX_MONEY
from coin.consensus.errors import Rejection
from coin.consensus.tx_check import check_transaction
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.primitives.transaction import NULL_HASH

# The comment row above each BADTX row in tx_invalid.json names the fault.
_COMMENT_REASONS = [
    ("No outputs", "bad-txns-vout-empty"),
    ("Negative output", "bad-txns-vout-negative"),
    ("MAX_MONEY + 1 output", "bad-txns-vout-toolarge"),
    ("MAX_MONEY output + 1 output", "bad-txns-txouttotal-toolarge"),
    ("Duplicate inputs", "bad-txns-inputs-duplicate"),
    ("required to make the tester happy", "bad-cb-length"),
    ("Null txin", "bad-txns-prevout-null"),
]


def _badtx_rows(vectors_dir):
    rows = json.loads((vectors_dir / "tx_invalid.json").read_text())
    comment = ""
    out = []
    for i, row in enumerate(rows):
        if len(row) == 1 and isinstance(row[0], str):
            comment = row[0]
        elif len(row) == 3 and row[2] == "BADTX":
            out.append((i, comment, row[1]))
    return out


def test_badtx_vectors_fail_with_their_reason(vectors_dir):
    rows = _badtx_rows(vectors_dir)
    assert len(rows) == 9
    for i, comment, tx_hex in rows:
        expected = [r for c, r in _COMMENT_REASONS if c in comment]
        assert expected, f"row {i}: no reason known for comment {comment!r}"
        with pytest.raises(Rejection) as info:
            check_transaction(Transaction.from_hex(tx_hex))
        assert info.value.reason == expected[0], f"tx_invalid[{i}] ({comment})"


def test_valid_vectors_pass(vectors_dir):
    rows = json.loads((vectors_dir / "tx_valid.json").read_text())
    n = 0
    for row in rows:
        if len(row) == 3 and isinstance(row[1], str):
            check_transaction(Transaction.from_hex(row[1]))
            n += 1
    assert n > 100


def _spend(outputs, inputs=None, script_sig=b"\x51"):
    if inputs is None:
        inputs = [TxIn(OutPoint(b"\x01" * 32, 0), script_sig)]
    return Transaction(1, inputs, outputs, 0)


_P2PKH = bytes.fromhex("76a914" + "00" * 20 + "88ac")


@pytest.mark.parametrize("reason,tx", [
    ("bad-txns-vin-empty", Transaction(1, [], [TxOut(1, b"")], 0)),
    ("bad-txns-vout-empty", _spend([])),
    ("bad-txns-oversize", _spend([TxOut(1, b"\x00" * 1_000_000)])),
    ("bad-txns-vout-negative", _spend([TxOut(-1, _P2PKH)])),
    ("bad-txns-vout-toolarge", _spend([TxOut(MAX_MONEY + 1, _P2PKH)])),
    ("bad-txns-txouttotal-toolarge", _spend([TxOut(MAX_MONEY, _P2PKH), TxOut(1, _P2PKH)])),
    ("bad-txns-inputs-duplicate", _spend([TxOut(1, _P2PKH)], [TxIn(OutPoint(b"\x02" * 32, 1))] * 2)),
    ("bad-cb-length", _spend([TxOut(1, _P2PKH)], [TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), b"\x51")])),
    ("bad-cb-length", _spend([TxOut(1, _P2PKH)], [TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), b"\x00" * 101)])),
    ("bad-txns-prevout-null", _spend([TxOut(1, _P2PKH)], [TxIn(OutPoint(b"\x02" * 32, 1)),
                                                          TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF))])),
], ids=lambda v: v if isinstance(v, str) else "")
def test_each_reason(reason, tx):
    with pytest.raises(Rejection) as info:
        check_transaction(tx)
    assert info.value.reason == reason
    assert info.value.ban_score == 100


def test_limits_are_inclusive():
    check_transaction(_spend([TxOut(MAX_MONEY, _P2PKH)]))
    check_transaction(_spend([TxOut(0, _P2PKH)]))
    for n in (2, 100):
        check_transaction(_spend([TxOut(1, _P2PKH)], [TxIn(OutPoint(NULL_HASH, 0xFFFFFFFF), b"\x00" * n)]))
    # Stripped size exactly 1,000,000 bytes is allowed (x4 == MAX_BLOCK_WEIGHT).
    tx = _spend([TxOut(1, b"")])
    pad = 1_000_000 - tx.base_size - 4  # 4: the script length grows to a 0xfe CompactSize
    tx = _spend([TxOut(1, b"\x00" * pad)])
    assert tx.base_size == 1_000_000
    check_transaction(tx)
    with pytest.raises(Rejection, match="bad-txns-oversize"):
        check_transaction(_spend([TxOut(1, b"\x00" * (pad + 1))]))


# -- python-bitcoinlib's CheckTransaction as an independent oracle ----------------------

_ORACLE_REASONS = {
    "vin empty": "bad-txns-vin-empty",
    "vout empty": "bad-txns-vout-empty",
    "size limits failed": "bad-txns-oversize",
    "txout.nValue negative": "bad-txns-vout-negative",
    "txout.nValue too high": "bad-txns-vout-toolarge",
    "txout total out of range": "bad-txns-txouttotal-toolarge",
    "duplicate inputs": "bad-txns-inputs-duplicate",
    "coinbase script size": "bad-cb-length",
    "prevout is null": "bad-txns-prevout-null",
}

_prevouts = st.sampled_from([OutPoint(NULL_HASH, 0xFFFFFFFF), OutPoint(NULL_HASH, 0),
                             OutPoint(b"\x01" * 32, 0xFFFFFFFF), OutPoint(b"\x01" * 32, 0),
                             OutPoint(b"\x01" * 32, 1)])
_values = st.one_of(st.integers(-3, 3), st.integers(0, MAX_MONEY),
                    st.sampled_from([MAX_MONEY, MAX_MONEY + 1, MAX_MONEY // 2 + 1, -(2**63)]))
_inputs = st.builds(lambda p, n: TxIn(p, b"\x00" * n), _prevouts, st.integers(0, 110))
_outputs = st.builds(lambda v, s: TxOut(v, s), _values, st.sampled_from([b"", _P2PKH]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_inputs, max_size=3), st.lists(_outputs, max_size=3))
def test_agrees_with_python_bitcoinlib(inputs, outputs):
    tx = Transaction(1, inputs, outputs, 0)
    try:
        check_transaction(tx)
        ours = None
    except Rejection as exc:
        ours = exc.reason
    ctx = bc.CTransaction.deserialize(tx.to_bytes()) if inputs else bc.CTransaction(
        [], [bc.CTxOut(o.value, o.script_pubkey) for o in outputs], 0, 1)
    try:
        bc.CheckTransaction(ctx)
        theirs = None
    except bc.CheckTransactionError as exc:
        theirs = next(r for k, r in _ORACLE_REASONS.items() if k in str(exc))
    assert ours == theirs
