"""Real mainnet blocks: byte-exact round trips, ids agreeing with python-bitcoinlib, linkage."""

import bz2
import struct

import pytest
from bitcoin.core import CBlock, b2lx

from coin.consensus.pow import check_proof_of_work
from coin.crypto.hashes import sha256d
from coin.params import get_params
from coin.primitives import Block, BlockHeader

MAIN_TIP_255 = "00000000d0a75c861fabf9ff7b92022f60e4afeed9331fe5aa073d8e4706fe3c"
MAGIC = bytes.fromhex("f9beb4d9")


def read_blk_file(data: bytes) -> list[bytes]:
    """Split Bitcoin's blk format (magic, u32 LE length, block) into block byte strings."""
    blocks, pos = [], 0
    while pos < len(data):
        assert data[pos:pos + 4] == MAGIC
        (length,) = struct.unpack_from("<I", data, pos + 4)
        blocks.append(data[pos + 8:pos + 8 + length])
        pos += 8 + length
    return blocks


def modern_block_files(vectors_dir):
    return sorted((vectors_dir / "blocks").glob("mainnet-block-*.bin"))


def all_raw_blocks(vectors_dir) -> list[bytes]:
    raws = [p.read_bytes() for p in modern_block_files(vectors_dir)]
    raws += read_blk_file(bz2.decompress((vectors_dir / "blocks/mainnet-block-277647.blk.bz2").read_bytes()))
    raws += read_blk_file(bz2.decompress((vectors_dir / "blocks/mainnet-blocks-1-255.blk.bz2").read_bytes()))
    return raws


@pytest.fixture(scope="module")
def raw_blocks(vectors_dir):
    return all_raw_blocks(vectors_dir)


def test_every_real_block_round_trips_and_agrees_with_bitcoinlib(raw_blocks):
    assert len(raw_blocks) == 2 + 1 + 255
    for raw in raw_blocks:
        block = Block.from_bytes(raw)
        assert block.to_bytes() == raw
        oracle = CBlock.deserialize(raw)
        assert block.hash == b2lx(oracle.GetHash())
        assert [tx.txid for tx in block.txs] == [b2lx(tx.GetTxid()) for tx in oracle.vtx]
        assert [tx.wtxid for tx in block.txs] == [b2lx(tx.GetHash()) for tx in oracle.vtx]
        root, mutated = block.compute_merkle_root()
        assert root == block.header.merkle_root_bytes and not mutated
        assert check_proof_of_work(block.hash_bytes, block.header.bits, get_params("main"))


def test_modern_blocks_witness_commitment_and_weight(vectors_dir):
    for path in modern_block_files(vectors_dir):
        raw = path.read_bytes()
        block = Block.from_bytes(raw)
        assert path.name == f"mainnet-block-{block.hash}.bin"
        # Re-serialising from fields (not the cached bytes) gives the same bytes.
        rebuilt = Block(block.header.replace(), [tx.replace() for tx in block.txs])
        assert rebuilt.to_bytes() == raw
        assert rebuilt.txs[1].txid == block.txs[1].txid
        # BIP141 commitment: the last OP_RETURN aa21a9ed output of the coinbase.
        commitment = [o.script_pubkey for o in block.txs[0].outputs
                      if o.script_pubkey.startswith(bytes.fromhex("6a24aa21a9ed"))][-1]
        witness_root, _ = block.compute_witness_merkle_root()
        reserved = block.txs[0].inputs[0].witness[0]
        assert commitment[6:38] == sha256d(witness_root + reserved)
        assert block.weight <= 4_000_000
        assert block.weight == CBlock.deserialize(raw).GetWeight()


def test_blocks_1_to_255_link_from_genesis(raw_blocks):
    main = get_params("main")
    chain = [Block.from_bytes(raw) for raw in raw_blocks[3:]]
    prev = main.genesis_hash_bytes
    for block in chain:
        assert block.header.prev_hash_bytes == prev
        prev = block.hash_bytes
    assert chain[-1].hash == MAIN_TIP_255
    assert len(chain) == 255


def test_headers_1_to_11_parse_and_link(vectors_dir):
    lines = [ln.strip() for ln in (vectors_dir / "blocks/mainnet-headers-1-11.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    headers = [BlockHeader.from_bytes(bytes.fromhex(ln.split()[-1])) for ln in lines]
    assert len(headers) == 11
    prev = get_params("main").genesis_hash_bytes
    for h in headers:
        assert h.prev_hash_bytes == prev
        assert check_proof_of_work(h.hash_bytes, h.bits, get_params("main"))
        prev = h.hash_bytes
    assert headers[0].hash == "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"
