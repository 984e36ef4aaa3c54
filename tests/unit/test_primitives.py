"""Primitives: hypothesis round trips against python-bitcoinlib, and strict decoding."""

import pytest
from bitcoin.core import CTransaction, b2lx
from hypothesis import given, settings
from hypothesis import strategies as st

from coin.primitives import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut, merkle_root
from coin.serialize import ByteReader, DecodeError, compact_size

hashes = st.binary(min_size=32, max_size=32)
u32 = st.integers(0, 2**32 - 1)
scripts = st.binary(max_size=80)
outpoints = st.builds(OutPoint, hashes, u32)
witnesses = st.lists(st.binary(max_size=75), max_size=4).map(tuple)
txins = st.builds(TxIn, outpoints, scripts, u32, witnesses)
txouts = st.builds(TxOut, st.integers(0, 21_000_000 * 10**8), scripts)


@st.composite
def transactions(draw):
    inputs = draw(st.lists(txins, min_size=1, max_size=4))
    outputs = draw(st.lists(txouts, max_size=4))
    return Transaction(draw(u32), inputs, outputs, draw(u32))


headers = st.builds(BlockHeader, st.integers(-2**31, 2**31 - 1), hashes, hashes, u32, u32, u32)


@settings(max_examples=150, deadline=None)
@given(transactions())
def test_transaction_round_trip_and_ids_agree_with_bitcoinlib(tx):
    raw = tx.to_bytes()
    parsed = Transaction.from_bytes(raw)
    assert parsed == tx and parsed.to_bytes() == raw
    assert parsed.inputs == tx.inputs and parsed.outputs == tx.outputs
    oracle = CTransaction.deserialize(raw)
    assert oracle.serialize() == raw
    assert tx.txid == b2lx(oracle.GetTxid())
    assert tx.wtxid == b2lx(oracle.GetHash())
    assert parsed.to_bytes(witness=False) == tx.replace(
        inputs=[i._replace(witness=()) for i in tx.inputs]).to_bytes()
    assert tx.weight == tx.base_size * 3 + tx.total_size


@settings(max_examples=100, deadline=None)
@given(headers, st.lists(transactions(), min_size=1, max_size=3))
def test_block_round_trip(header, txs):
    block = Block(header, txs)
    raw = block.to_bytes()
    parsed = Block.from_bytes(raw)
    assert parsed == block and parsed.hash == header.hash
    assert BlockHeader.from_bytes(header.to_bytes()) == header
    assert [t.txid for t in parsed.txs] == [t.txid for t in txs]


@given(st.integers(0, 2**64 - 1))
def test_compact_size_round_trip(n):
    r = ByteReader(compact_size(n))
    if n > 0x02000000:
        with pytest.raises(DecodeError):
            r.read_compact_size()
    else:
        assert r.read_compact_size() == n
        r.expect_end()


@pytest.mark.parametrize("encoded", ["fdfc00", "fe00010000", "ff0000000100000000"])
def test_non_minimal_compact_size_rejected(encoded):
    with pytest.raises(DecodeError, match="non-canonical"):
        ByteReader(bytes.fromhex(encoded)).read_compact_size()


SIMPLE_TX = Transaction(1, [TxIn(OutPoint(b"\x11" * 32, 0), b"\x51")], [TxOut(5000, b"\x51")], 0)
SEGWIT_TX = Transaction(2, [TxIn(OutPoint(b"\x22" * 32, 1), b"", 0xFFFFFFFE, (b"\x01" * 71, b"\x02" * 33))],
                        [TxOut(1, b"\x00\x14" + b"\x33" * 20)], 7)


@pytest.mark.parametrize("tx", [SIMPLE_TX, SEGWIT_TX], ids=["legacy", "segwit"])
def test_every_truncation_raises_decode_error(tx):
    raw = tx.to_bytes()
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            Transaction.from_bytes(raw[:cut])


@pytest.mark.parametrize("tx", [SIMPLE_TX, SEGWIT_TX], ids=["legacy", "segwit"])
def test_trailing_bytes_raise(tx):
    with pytest.raises(DecodeError, match="trailing"):
        Transaction.from_bytes(tx.to_bytes() + b"\x00")


def test_absurd_counts_raise_before_allocating():
    # version, then an input count of 2**25 with no data behind it
    with pytest.raises(DecodeError):
        Transaction.from_bytes(bytes.fromhex("01000000") + b"\xfe\x00\x00\x00\x02")
    # a script length far beyond the data
    with pytest.raises(DecodeError):
        Transaction.from_bytes(bytes.fromhex("01000000") + b"\x01" + b"\x00" * 36 + b"\xfe\xff\xff\xff\x01")
    # a block claiming 2**25 transactions
    with pytest.raises(DecodeError):
        Block.from_bytes(b"\x00" * 80 + b"\xfe\x00\x00\x00\x02")
    # more than MAX_SIZE
    with pytest.raises(DecodeError, match="exceeds limit"):
        Transaction.from_bytes(bytes.fromhex("01000000") + b"\xff" + (2**40).to_bytes(8, "little"))


def test_bip144_witness_errors():
    raw = SEGWIT_TX.to_bytes()
    # Marker and flag but every witness stack empty: "Superfluous witness record".
    no_wit = SEGWIT_TX.replace(inputs=[SEGWIT_TX.inputs[0]._replace(witness=())])
    legacy = no_wit.to_bytes()
    superfluous = legacy[:4] + b"\x00\x01" + legacy[4:-4] + b"\x00" + legacy[-4:]
    with pytest.raises(DecodeError, match="Superfluous witness record"):
        Transaction.from_bytes(superfluous)
    # An unknown flag bit.
    with pytest.raises(DecodeError, match="Unknown transaction optional data"):
        Transaction.from_bytes(raw[:5] + b"\x03" + raw[6:])


def test_ids_and_display_order():
    tx = SEGWIT_TX
    assert tx.txid == tx.txid_bytes[::-1].hex() and tx.txid != tx.wtxid
    assert SIMPLE_TX.txid == SIMPLE_TX.wtxid
    assert tx.inputs[0].prevout.txid == (b"\x22" * 32).hex()
    assert tx.has_witness() and not SIMPLE_TX.has_witness()
    assert not tx.is_coinbase()


def test_immutable():
    with pytest.raises(AttributeError):
        SIMPLE_TX.version = 2
    with pytest.raises(AttributeError):
        SIMPLE_TX.inputs[0].sequence = 1


def test_merkle_mutation_flag():
    a, b, c = (bytes([i]) * 32 for i in (1, 2, 3))
    root3, mutated3 = merkle_root([a, b, c])
    root4, mutated4 = merkle_root([a, b, c, c])
    assert root3 == root4 and not mutated3 and mutated4
    assert merkle_root([a]) == (a, False)
