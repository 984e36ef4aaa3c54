"""Block assembly: BIP-0034 coinbase scripts, witness commitments, templates."""

import bitcoin.core as bc
import pytest
from bitcoin.core.script import CScript
from hypothesis import given
from hypothesis import strategies as st

from coin.consensus.block_check import bip34_height_script, check_block, contextual_check_block
from coin.consensus.tx_check import check_transaction
from coin.consensus.witness import check_witness_malleation, get_witness_commitment_index
from coin.mining.template import (
    WITNESS_RESERVED_VALUE,
    add_witness_commitment,
    coinbase_script_sig,
    create_block,
    create_coinbase,
)
from coin.params import get_params
from coin.primitives import Block, OutPoint, Transaction, TxIn, TxOut

REGTEST = get_params("regtest")
MAIN = get_params("main")
SPK = bytes.fromhex("0014" + "ab" * 20)


@given(st.integers(0, 2**31 - 1))
def test_height_script_matches_python_bitcoinlib(height):
    # python-bitcoinlib's CScript([n]) is Core's `CScript() << n` (OP_N for 1..16).
    assert bip34_height_script(height) == bytes(CScript([height]))


@pytest.mark.parametrize("height,hex_", [
    (1, "5100"), (16, "6000"), (17, "011100"), (500, "02f40100"), (227931, "035b7a0300"),
])
def test_coinbase_script_sig_is_core_miners(height, hex_):
    # Core's miner: CScript() << nHeight << OP_0.
    assert coinbase_script_sig(height).hex() == hex_
    assert coinbase_script_sig(height, b"\x07\x08").hex() == hex_[:-2] + "020708"


@pytest.mark.parametrize("height", [0, 1, 2, 16, 17, 150, 300, 1_000_000])
def test_coinbase_is_valid(height):
    cb = create_coinbase(height, SPK, 12345, REGTEST)
    check_transaction(cb)
    assert cb.is_coinbase() and cb.version == 2 and cb.lock_time == 0
    assert cb.outputs == (TxOut(12345, SPK),)
    assert cb.inputs[0].script_sig.startswith(bip34_height_script(height))
    assert not cb.has_witness()


def _spend_tx(n):
    return Transaction(2, [TxIn(OutPoint(bytes([n]) * 32, 0), b"", 0xFFFFFFFE, (b"\x01" * 72, b"\x02" * 33))],
                       [TxOut(1000, SPK)], 0)


def test_regtest_template_commits_to_witnesses():
    txs = [_spend_tx(1), _spend_tx(2)]
    block = create_block(REGTEST.genesis_hash_bytes, 1, txs, REGTEST.genesis.header.time + 1,
                         REGTEST.pow_limit_bits, REGTEST, SPK, fees=500)
    cb = block.txs[0]
    assert cb.outputs[0].value == 50 * 10**8 + 500
    assert cb.inputs[0].witness == (WITNESS_RESERVED_VALUE,)
    assert get_witness_commitment_index(block) == 1
    assert block.header.nonce == 0 and block.header.version == 0x20000000
    check_witness_malleation(block, True)
    check_block(block, REGTEST, check_pow=False)
    # python-bitcoinlib checks the merkle root and the witness commitment independently.
    bc.CheckBlock(bc.CBlock.deserialize(block.to_bytes()), fCheckPoW=False,
                  cur_time=block.header.time)


def test_add_witness_commitment_replaces_stale_commitment():
    block = create_block(REGTEST.genesis_hash_bytes, 1, [_spend_tx(1)], 1296688603,
                         REGTEST.pow_limit_bits, REGTEST, SPK)
    changed = Block(block.header, [block.txs[0], _spend_tx(3)])
    with pytest.raises(Exception, match="bad-witness-merkle-match"):
        check_witness_malleation(changed, True)
    fixed = add_witness_commitment(changed)
    assert len(fixed.txs[0].outputs) == 2
    check_witness_malleation(fixed, True)
    assert fixed.header.merkle_root_bytes == fixed.compute_merkle_root()[0]


def test_pre_segwit_template_has_no_witness():
    # Mainnet height 300000: before segwit, no commitment and no coinbase witness.
    block = create_block(b"\x11" * 32, 300_000, [], 1_400_000_000, 0x1903A30C, MAIN, SPK)
    assert len(block.txs) == 1 and not block.txs[0].has_witness()
    assert get_witness_commitment_index(block) == -1
    assert block.txs[0].outputs[0].value == 25 * 10**8
    check_block(block, MAIN, check_pow=False)


class _Prev:
    def __init__(self, height, time):
        self.height = height
        self._time = time

    def median_time_past(self):
        return self._time


@pytest.mark.parametrize("height", [1, 2, 15, 16, 17, 100, 149, 150])
def test_regtest_templates_pass_contextual_checks(height):
    # Core's bad-cb-height compares against `CScript() << height`: heights 1..16 included.
    block = create_block(b"\x22" * 32, height, [], 1_300_000_000, REGTEST.pow_limit_bits,
                         REGTEST, SPK)
    contextual_check_block(block, _Prev(height - 1, 1_299_999_000), REGTEST)
