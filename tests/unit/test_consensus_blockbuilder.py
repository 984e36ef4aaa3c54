"""The test block builder itself: valid chains, forks, signed spends, tweaks, time floor."""

import pytest
from blockbuilder import OP_TRUE_SCRIPT, BlockBuilder, MemoryChain

from coin.consensus.errors import Rejection
from coin.consensus.pow import check_proof_of_work
from coin.primitives import Block, TxOut
from coin.script import Flags, verify_input


def test_chain_fork_and_spends():
    builder = BlockBuilder()
    chain = MemoryChain(builder.params)
    for block in builder.build_chain(101):
        assert check_proof_of_work(block.hash_bytes, block.header.bits, builder.params)
        chain.process_block(block)
    utxo = builder.coinbase_utxo(1)
    p2pkh = builder.spend([utxo], n_outputs=2, fee=500, script_pubkey=builder.p2pkh)
    mixed = builder.spend([builder.coinbase_utxo(2), *builder.utxos_of(p2pkh)],
                          outputs=[TxOut(10**8, OP_TRUE_SCRIPT)], fee=0)
    flags = Flags.P2SH | Flags.WITNESS | Flags.DERSIG | Flags.NULLDUMMY
    for tx, spent in [(p2pkh, [utxo.txout]),
                      (mixed, [builder.coinbase_utxo(2).txout, *p2pkh.outputs])]:
        for i in range(len(tx.inputs)):
            verify_input(tx, i, spent, flags)
    block = builder.next_block([p2pkh, mixed])
    # Fees: everything the two coinbases held but the 1-coin output.
    assert block.txs[0].outputs[0].value == 50 * 10**8 + (100 * 10**8 - 10**8)
    chain.process_block(block)
    # A fork from height 100 does not move the builder's tip.
    fork = builder.next_block(prev=builder.entry_of(chain.blocks[100]))
    assert builder.tip.hash_bytes == block.hash_bytes
    assert builder.entry_of(fork).height == 101
    assert builder.coinbase_utxo(101, tip=builder.entry_of(fork)).outpoint.txid_bytes == fork.txs[0].txid_bytes


def test_tweaks_and_time_floor():
    builder = BlockBuilder(time=1_700_000_000)
    first = builder.next_block()
    assert first.header.time == 1_700_000_000
    assert builder.next_block().header.time == 1_700_000_001
    chain = MemoryChain(builder.params)
    chain.process_block(first)
    bumped = builder.next_block(tweak=lambda b: Block(b.header.replace(version=0x20000001), b.txs),
                                set_tip=False)
    assert bumped.header.version == 0x20000001
    broken = builder.next_block(tweak_after=lambda b: Block(b.header.replace(nonce=b.header.nonce + 1), b.txs),
                                set_tip=False, prev=builder.entry_of(first))
    if not check_proof_of_work(broken.hash_bytes, broken.header.bits, builder.params):
        with pytest.raises(Rejection, match="high-hash"):
            chain.process_block(broken)
