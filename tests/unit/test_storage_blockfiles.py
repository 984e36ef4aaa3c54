"""coin.chain.blockfiles: blk/rev writer and reader, padding, truncation, rolling, checksums."""

import bz2
import os
import struct

import pytest
from storage_faults import fill_disk_under_open_blk_file

from coin.chain.blockfiles import (
    BlockFiles,
    FilePos,
    blk_path,
    read_blk_file,
    rev_path,
)
from coin.consensus.errors import InternalError
from coin.crypto.hashes import sha256d
from coin.params import get_params
from coin.primitives import Block

MAIN_MAGIC = bytes.fromhex("f9beb4d9")


@pytest.fixture(scope="module")
def mainnet_raw(vectors_dir) -> bytes:
    return bz2.open(vectors_dir / "blocks" / "mainnet-blocks-1-255.blk.bz2").read()


def _records(raw: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(raw):
        n = struct.unpack_from("<I", raw, pos + 4)[0]
        out.append(raw[pos + 8:pos + 8 + n])
        pos += 8 + n
    return out


def test_reader_reads_the_mainnet_file(tmp_path, mainnet_raw):
    path = tmp_path / "blk.dat"
    path.write_bytes(mainnet_raw)
    blocks = [b for _, b in read_blk_file(path, MAIN_MAGIC)]
    assert len(blocks) == 255
    assert blocks[0].header.prev_hash == get_params("main").genesis.hash
    assert blocks[-1].hash == "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c"
    assert sum(len(b.txs) for b in blocks) == 262
    for (offset, b), raw in zip(read_blk_file(path, MAIN_MAGIC), _records(mainnet_raw), strict=True):
        assert mainnet_raw[offset:offset + len(raw)] == raw == b.to_bytes()


def test_reader_skips_zero_padding_and_garbage(tmp_path, mainnet_raw):
    recs = _records(mainnet_raw)[:5]
    data = b"\x00" * 100
    for i, r in enumerate(recs):
        data += MAIN_MAGIC + struct.pack("<I", len(r)) + r
        data += b"\x00" * (i * 37) + (b"junk" if i == 2 else b"")
    data += b"\x00" * 4096  # Core pre-allocates and leaves zeros at the end
    path = tmp_path / "padded.dat"
    path.write_bytes(data)
    assert [b.to_bytes() for _, b in read_blk_file(path, MAIN_MAGIC)] == recs


def test_reader_stops_cleanly_on_truncation(tmp_path, mainnet_raw):
    recs = _records(mainnet_raw)[:3]
    full = b"".join(MAIN_MAGIC + struct.pack("<I", len(r)) + r for r in recs)
    for cut in (len(full) - 1, len(full) - len(recs[2]) - 3, len(full) - len(recs[2]) - 8):
        path = tmp_path / f"trunc{cut}.dat"
        path.write_bytes(full[:cut])
        assert [b.to_bytes() for _, b in read_blk_file(path, MAIN_MAGIC)] == recs[:2]
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    assert list(read_blk_file(empty, MAIN_MAGIC)) == []


def test_reader_skips_a_corrupt_record_and_resyncs(tmp_path, mainnet_raw):
    recs = _records(mainnet_raw)[:3]
    bad = bytearray(recs[1])
    bad[80] = 0xFD  # transaction count becomes a non-canonical CompactSize: does not parse
    data = b"".join(MAIN_MAGIC + struct.pack("<I", len(r)) + r for r in (recs[0], bytes(bad), recs[2]))
    path = tmp_path / "corrupt.dat"
    path.write_bytes(data)
    assert [b.to_bytes() for _, b in read_blk_file(path, MAIN_MAGIC)] == [recs[0], recs[2]]


def test_other_network_magic_is_ignored(tmp_path, mainnet_raw):
    path = tmp_path / "blk.dat"
    path.write_bytes(mainnet_raw[:2000])
    assert list(read_blk_file(path, get_params("regtest").magic)) == []


def test_write_and_read_blocks_and_file_layout(tmp_path, mainnet_raw):
    recs = _records(mainnet_raw)[:10]
    bf = BlockFiles(tmp_path / "blocks", MAIN_MAGIC)
    positions = [bf.write_block(r, height=i + 1, time=1000 + i) for i, r in enumerate(recs)]
    bf.sync()
    assert positions[0] == FilePos(0, 8)
    for pos, r in zip(positions, recs, strict=True):
        assert bf.read_block_bytes(pos) == r
        assert bf.read_block(pos) == Block.from_bytes(r)
    # The file is exactly Core's format: what we wrote reads back with the import reader.
    with open(blk_path(bf.blocks_dir, 0), "rb") as f:
        assert f.read() == b"".join(MAIN_MAGIC + struct.pack("<I", len(r)) + r for r in recs)
    info = bf.take_dirty_infos()[0]
    assert (info.blocks, info.height_first, info.height_last) == (10, 1, 10)
    assert info.size == os.path.getsize(blk_path(bf.blocks_dir, 0))
    assert bf.take_dirty_infos() == {}


def test_rolls_to_a_new_file_when_full(tmp_path, mainnet_raw):
    recs = _records(mainnet_raw)[:6]
    bf = BlockFiles(tmp_path / "blocks", MAIN_MAGIC, max_file_size=3 * 230)
    positions = [bf.write_block(r) for r in recs]
    assert [p.file_no for p in positions] == [0, 0, 0, 1, 1, 1]
    bf.flush()
    assert all(os.path.getsize(blk_path(bf.blocks_dir, n)) <= 3 * 230 for n in (0, 1))
    assert bf.block_file_numbers() == [0, 1]
    for pos, r in zip(positions, recs, strict=True):
        assert bf.read_block_bytes(pos) == r
    # Reopened with the recorded last file, writing continues at the end of file 1.
    bf2 = BlockFiles(tmp_path / "blocks", MAIN_MAGIC, infos=bf.infos, last_file=bf.last_file,
                    max_file_size=3 * 230)
    pos = bf2.write_block(recs[0])
    assert pos.file_no == 2  # file 1 is full too
    assert bf2.read_block_bytes(positions[4]) == recs[4]


def test_undo_round_trip_and_checksum(tmp_path):
    bf = BlockFiles(tmp_path / "blocks", MAIN_MAGIC)
    prev = b"\x07" * 32
    p1 = bf.write_undo(0, b"undo-one", prev)
    p2 = bf.write_undo(0, b"", prev)
    assert bf.read_undo(0, p1, prev) == b"undo-one"
    assert bf.read_undo(0, p2, prev) == b""  # reading flushes the open file first
    raw = open(rev_path(bf.blocks_dir, 0), "rb").read()
    assert raw[:8] == MAIN_MAGIC + struct.pack("<I", 8)
    assert raw[8:16] == b"undo-one" and raw[16:48] == sha256d(prev + b"undo-one")
    with pytest.raises(InternalError, match="checksum"):
        bf.read_undo(0, p1, b"\x08" * 32)
    with open(rev_path(bf.blocks_dir, 0), "r+b") as f:
        f.seek(p1)
        f.write(b"U")
    with pytest.raises(InternalError, match="checksum"):
        bf.read_undo(0, p1, prev)


def test_bad_positions_raise_internal_error(tmp_path, mainnet_raw):
    bf = BlockFiles(tmp_path / "blocks", MAIN_MAGIC)
    pos = bf.write_block(_records(mainnet_raw)[0])
    with pytest.raises(InternalError):
        bf.read_block_bytes(FilePos(0, pos.pos + 1))   # wrong magic
    with pytest.raises(InternalError):
        bf.read_block_bytes(FilePos(3, 8))             # no such file
    with pytest.raises(InternalError):
        bf.read_block_bytes(FilePos(0, 10_000))        # past the end


def test_appends_after_unreferenced_data_never_overwrite(tmp_path, mainnet_raw):
    """Data appended after the last database write (a crash) is kept; writing resumes
    at the real end of the file."""
    recs = _records(mainnet_raw)[:3]
    bf = BlockFiles(tmp_path / "blocks", MAIN_MAGIC)
    bf.write_block(recs[0])
    infos = dict(bf.infos)           # what the database knew
    p1 = bf.write_block(recs[1])     # written, then "crash" before the database update
    bf.flush()                       # (handed to the OS: a killed process keeps it)
    bf2 = BlockFiles(tmp_path / "blocks", MAIN_MAGIC, infos=infos, last_file=0)
    p2 = bf2.write_block(recs[2])
    assert p2.pos > p1.pos
    assert bf2.read_block_bytes(p1) == recs[1] and bf2.read_block_bytes(p2) == recs[2]


def test_writes_are_buffered_until_flush_sync_or_read(tmp_path, mainnet_raw):
    """Appends stay in memory (no system call a block) until flush(), sync(), a read of
    that file or close(); a process killed before then loses only those records, which
    nothing refers to yet (the chain state syncs before writing index entries)."""
    recs = _records(mainnet_raw)[:3]
    path = blk_path(str(tmp_path / "blocks"), 0)
    bf = BlockFiles(tmp_path / "blocks", MAIN_MAGIC)
    p0 = bf.write_block(recs[0])
    assert os.path.getsize(path) == 0
    bf.flush()
    assert os.path.getsize(path) == 8 + len(recs[0])
    p1 = bf.write_block(recs[1])
    assert bf.read_block_bytes(p1) == recs[1]       # the read flushed it
    assert os.path.getsize(path) == p1.pos + len(recs[1])
    bf.write_undo(0, b"undo", b"\x01" * 32)
    assert bf.needs_sync
    bf.sync()
    assert not bf.needs_sync and os.path.getsize(rev_path(bf.blocks_dir, 0)) == 8 + 4 + 32
    p2 = bf.write_block(recs[2])
    bf.close()
    assert os.path.getsize(path) == p2.pos + len(recs[2])
    p3 = bf.write_block(recs[0])                     # writing again reopens the file
    assert p3.pos == p2.pos + len(recs[2]) + 8 and bf.read_block_bytes(p0) == recs[0]
    bf.close()


def test_a_failed_write_is_latched_not_silently_misplaced(tmp_path, mainnet_raw):
    """Disk full while flushing: the buffered records (positions already handed out)
    are gone, so every later write, sync and read raises InternalError instead of
    placing records at offsets that no longer match the file; a new BlockFiles (a
    restart) appends at the file's real end again."""
    recs = _records(mainnet_raw)[:3]
    fatal = []
    bf = BlockFiles(tmp_path / "blocks", MAIN_MAGIC, on_fatal=fatal.append)
    p0 = bf.write_block(recs[0])
    bf.sync()
    bf.write_block(recs[1])

    fill_disk_under_open_blk_file(bf)
    with pytest.raises(InternalError, match="No space left"):
        bf.sync()
    assert len(fatal) == 1 and "No space left" in fatal[0]   # the node is told once
    for call in (lambda: bf.write_block(recs[2]), bf.sync, lambda: bf.read_block_bytes(p0),
                 lambda: bf.write_undo(0, b"u", b"\x00" * 32)):
        with pytest.raises(InternalError, match="earlier write"):
            call()
    bf.close()
    assert len(fatal) == 1
    bf2 = BlockFiles(tmp_path / "blocks", MAIN_MAGIC)
    p2 = bf2.write_block(recs[2])
    assert p2.pos == p0.pos + len(recs[0]) + 8       # the lost record left no trace
    assert bf2.read_block_bytes(p0) == recs[0] and bf2.read_block_bytes(p2) == recs[2]
    bf2.close()
