"""coin.chain.layout records and coin.chain.db (real plyvel LevelDB in a tmp dir)."""

import bz2

import pytest

from coin.chain import layout
from coin.chain.db import ChainDB
from coin.primitives import Block, BlockHeader
from coin.serialize import DecodeError


@pytest.fixture
def db(tmp_path):
    d = ChainDB(tmp_path / "db")
    yield d
    d.close()


def _mainnet_block1(vectors_dir) -> Block:
    raw = bz2.open(vectors_dir / "blocks" / "mainnet-blocks-1-255.blk.bz2").read()
    n = int.from_bytes(raw[4:8], "little")
    return Block.from_bytes(raw[8:8 + n])


def test_keys_are_prefixed_and_distinct():
    h = bytes(range(32))
    keys = [layout.version_key(), layout.best_block_key(), layout.block_index_key(h),
            layout.coin_key(h, 0), layout.file_info_key(0), layout.last_file_key(),
            layout.reindex_key()]
    assert len({k[:1] for k in keys}) == len(keys)
    assert layout.coin_key(h, 7) == b"C" + h + b"\x00\x00\x00\x07"
    assert layout.coin_key_outpoint(layout.coin_key(h, 0x01020304)) == (h, 0x01020304)
    with pytest.raises(ValueError):
        layout.block_index_key(b"\x00" * 31)


def test_coin_keys_sort_by_txid_then_index():
    a, b = b"\x01" * 32, b"\x02" * 32
    keys = [layout.coin_key(b, 0), layout.coin_key(a, 256), layout.coin_key(a, 1),
            layout.coin_key(a, 0x10000)]
    decoded = [layout.coin_key_outpoint(k) for k in sorted(keys)]
    assert decoded == [(a, 1), (a, 256), (a, 0x10000), (b, 0)]


def test_coin_record_matches_documented_example(vectors_dir):
    block1 = _mainnet_block1(vectors_dir)
    cb = block1.txs[0]
    assert cb.txid == "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098"
    out = cb.outputs[0]
    value = layout.encode_coin(out.value, out.script_pubkey, 1, True)
    assert value[:12].hex() == "03000000" "00f2052a01000000"
    assert value[12] == 0x43 and value[13:] == out.script_pubkey
    assert layout.decode_coin(value) == (out.value, out.script_pubkey, 1, True)
    # The layout docstring shows this very record.
    assert value[13:].hex()[:20] in layout.__doc__.replace(" ", "").replace("\n", "")


@pytest.mark.parametrize("height,coinbase,value,script", [
    (0, False, 0, b""),
    (1, True, 5_000_000_000, b"\x51"),
    (0x7FFFFFFF, True, 21_000_000 * 100_000_000, b"\x6a" * 300),
    (840_000, False, 546, bytes(range(256)) * 40),
], ids=["empty", "op_true", "max_height", "large_script"])
def test_coin_record_round_trip(height, coinbase, value, script):
    data = layout.encode_coin(value, script, height, coinbase)
    assert layout.decode_coin(data) == (value, script, height, coinbase)


def test_coin_record_rejects_trailing_and_truncated():
    data = layout.encode_coin(1000, b"\x51\x52", 5, False)
    with pytest.raises(DecodeError):
        layout.decode_coin(data + b"\x00")
    with pytest.raises(DecodeError):
        layout.decode_coin(data[:-1])


def test_index_record_round_trip_and_documented_example(vectors_dir):
    block1 = _mainnet_block1(vectors_dir)
    rec = layout.IndexRecord(block1.header.to_bytes(), 1, 0x7F, 1, 0, 301, 8)
    data = layout.encode_index_record(rec)
    assert len(data) == 104
    assert layout.decode_index_record(data) == rec
    assert data[80:].hex() == "01000000" "7f000000" "01000000" "00000000" "2d010000" "08000000"
    assert BlockHeader.from_bytes(data[:80]).hash == (
        "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048")
    assert layout.block_index_key(block1.hash_bytes).hex() == (
        "62" "4860eb18bf1b1620e37e9490fc8a427514416fd75159ab86688e9a8300000000")
    rec2 = rec._replace(file_no=layout.NO_FILE, data_pos=0, undo_pos=0, status=3, n_tx=0)
    assert layout.decode_index_record(layout.encode_index_record(rec2)) == rec2
    with pytest.raises(DecodeError):
        layout.decode_index_record(data[:-1])


def test_file_info_round_trip():
    info = layout.FileInfo().add_block(5, 1000, 300).add_block(3, 900, 700)
    assert info == layout.FileInfo(2, 700, 0, 3, 5, 900, 1000)
    assert layout.decode_file_info(layout.encode_file_info(info)) == info
    # The documented example: blk00000.dat holding only the mainnet genesis.
    ex = layout.FileInfo(1, 293, 0, 0, 0, 1231006505, 1231006505)
    assert layout.encode_file_info(ex).hex() == (
        "01000000" "25010000" "00000000" "00000000" "00000000" "29ab5f49" "29ab5f49")


def test_db_get_put_delete_and_prefix_iteration(db):
    assert db.get(b"x") is None
    db.put(b"Ca", b"1")
    db.put(b"Cb", b"2")
    db.put(b"D", b"3")
    assert db.get(b"Ca") == b"1"
    assert list(db.iterate_prefix(b"C")) == [(b"Ca", b"1"), (b"Cb", b"2")]
    assert list(db.iterate_prefix(b"C", include_value=False)) == [b"Ca", b"Cb"]
    db.delete(b"Ca")
    assert db.get(b"Ca") is None


def test_batch_is_atomic(db):
    with db.batch() as wb:
        wb.put(b"a", b"1")
        wb.put(b"b", b"2")
    assert db.get(b"a") == b"1" and db.get(b"b") == b"2"
    with pytest.raises(RuntimeError), db.batch() as wb:
        wb.put(b"c", b"3")
        wb.delete(b"a")
        raise RuntimeError("boom")
    assert db.get(b"c") is None and db.get(b"a") == b"1"


def test_db_persists_across_reopen(tmp_path):
    path = tmp_path / "db"
    with ChainDB(path) as d:
        with d.batch(sync=True) as wb:
            wb.put(layout.best_block_key(), b"\x11" * 32)
        assert d.approximate_size() > 0
    with ChainDB(path) as d:
        assert d.get(layout.best_block_key()) == b"\x11" * 32
