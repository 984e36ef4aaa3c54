"""connect_block's script checks: deferred signatures, threads, and which failure wins.

P2WPKH / P2PKH signatures are verified after the block's scripts are evaluated, spread
over an executor; whatever the thread count, the reported failure must be the first
failing input in block order with its exact script error, and non-script failures must
still come before script failures.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from blockbuilder import BlockBuilder, MemoryChain

from coin.consensus.connect import SIGNATURE_CHUNK
from coin.consensus.errors import Rejection
from coin.crypto import ecc
from coin.crypto.hashes import sha256
from coin.primitives import TxOut
from coin.script import SignatureCache, verify_input
from coin.script.flags import MANDATORY_SCRIPT_VERIFY_FLAGS

N_SPENDS = 4 * SIGNATURE_CHUNK + 3   # enough for several shares on an executor

EVAL_FALSE = ("mandatory-script-verify-flag-failed (Script evaluated without error but "
              "finished with a false/empty top stack element)")
WITNESS_MISMATCH = "mandatory-script-verify-flag-failed (Witness program hash mismatch)"


@pytest.fixture(scope="module")
def setup():
    """A chain with N_SPENDS P2WPKH and N_SPENDS P2PKH outputs, and unsigned spends of them."""
    builder = BlockBuilder()
    blocks = builder.build_chain(101)
    fan = builder.spend([builder.coinbase_utxo(1)], n_outputs=N_SPENDS, fee=10_000)
    fan2 = builder.spend([builder.coinbase_utxo(2)], n_outputs=N_SPENDS, fee=10_000,
                         script_pubkey=builder.p2pkh)
    blocks.append(builder.next_block([fan, fan2]))
    chain = MemoryChain(builder.params)
    for block in blocks:
        chain.process_block(block)
    spends = [builder.spend([u], fee=1000) for u in builder.utxos_of(fan) + builder.utxos_of(fan2)]
    return builder, chain, spends


def _bad_sig(builder, tx):
    """`tx` with input 0's signature valid DER but over another message."""
    txin = tx.inputs[0]
    sig = ecc.sign(builder.privkey, sha256(b"not the sighash")) + b"\x01"
    if txin.witness:
        txin = txin._replace(witness=(sig, txin.witness[1]))
    else:
        txin = txin._replace(script_sig=bytes((len(sig),)) + sig + txin.script_sig[txin.script_sig[0] + 1:])
    return tx.replace(inputs=[txin])


def _bad_witness(tx):
    """`tx` whose input 0 fails during evaluation (a third witness item)."""
    txin = tx.inputs[0]
    return tx.replace(inputs=[txin._replace(witness=txin.witness + (b"",))])


def _outcome(builder, chain, txs, **kwargs):
    block = builder.next_block(txs, set_tip=False)
    try:
        chain.copy().process_block(block, **kwargs)
    except Rejection as r:
        return r.reason, r.debug
    return None


def _all_ways(builder, chain, txs):
    """The outcome inline and on executors of 1 and 2 threads; they must agree."""
    outcomes = [_outcome(builder, chain, txs)]
    for threads in (1, 2):
        with ThreadPoolExecutor(threads) as executor:
            outcomes.append(_outcome(builder, chain, txs, executor=executor))
    assert outcomes[1:] == outcomes[:1] * 2
    return outcomes[0]


def _input(tx) -> str:
    return f"input 0 of {tx.txid} "


def test_valid_block_connects_every_way(setup):
    builder, chain, spends = setup
    assert _all_ways(builder, chain, spends) is None


@pytest.mark.parametrize("position", [0, SIGNATURE_CHUNK, N_SPENDS - 1, N_SPENDS, 2 * N_SPENDS - 1],
                         ids=lambda p: f"at{p}")
def test_bad_signature_is_found_wherever_it_is(setup, position):
    builder, chain, spends = setup
    txs = list(spends)
    txs[position] = _bad_sig(builder, txs[position])
    reason, debug = _all_ways(builder, chain, txs)
    assert reason == EVAL_FALSE
    assert debug.startswith(_input(txs[position]))


def test_earlier_bad_signature_beats_later_evaluation_failure(setup):
    builder, chain, spends = setup
    txs = list(spends)
    txs[3] = _bad_sig(builder, txs[3])
    txs[N_SPENDS - 2] = _bad_witness(txs[N_SPENDS - 2])
    reason, debug = _all_ways(builder, chain, txs)
    assert (reason, debug.startswith(_input(txs[3]))) == (EVAL_FALSE, True)


def test_earlier_evaluation_failure_beats_later_bad_signature(setup):
    builder, chain, spends = setup
    txs = list(spends)
    txs[3] = _bad_witness(txs[3])
    txs[N_SPENDS - 2] = _bad_sig(builder, txs[N_SPENDS - 2])
    reason, debug = _all_ways(builder, chain, txs)
    assert (reason, debug.startswith(_input(txs[3]))) == (WITNESS_MISMATCH, True)


def test_first_of_two_bad_signatures_in_different_shares(setup):
    builder, chain, spends = setup
    txs = list(spends)
    for i in (2 * N_SPENDS - 2, SIGNATURE_CHUNK + 1):
        txs[i] = _bad_sig(builder, txs[i])
    reason, debug = _all_ways(builder, chain, txs)
    assert debug.startswith(_input(txs[SIGNATURE_CHUNK + 1]))


def test_non_script_failure_beats_bad_signature(setup):
    builder, chain, spends = setup
    txs = list(spends)
    txs[0] = _bad_sig(builder, txs[0])
    block = builder.next_block(txs, set_tip=False, fees=builder.fees_of(txs) + 1)
    with ThreadPoolExecutor(2) as threads:
        for executor in (None, threads):
            with pytest.raises(Rejection) as exc:
                chain.copy().process_block(block, executor=executor)
            assert exc.value.reason == "bad-cb-amount"


def test_cached_signatures_are_not_verified_again_nor_stored(setup, monkeypatch):
    builder, chain, spends = setup
    cache = SignatureCache()
    for tx in spends[:5]:   # as the mempool would have
        verify_input(tx, 0, [builder.outputs[tx.inputs[0].prevout]],
                     MANDATORY_SCRIPT_VERIFY_FLAGS, sigcache=cache)
    assert len(cache) == 5
    calls = []
    real = ecc.first_bad_signature
    monkeypatch.setattr(ecc, "first_bad_signature", lambda jobs: calls.extend(jobs) or real(jobs))
    assert _outcome(builder, chain, spends, sigcache=cache) is None
    assert len(calls) == len(spends) - 5 and cache.hits == 5 and len(cache) == 5


def test_output_values_are_what_they_seem(setup):
    # Guard for the fixture: the spends really are P2WPKH then P2PKH.
    builder, _, spends = setup
    kinds = [builder.outputs[tx.inputs[0].prevout].script_pubkey for tx in spends]
    assert kinds == [builder.p2wpkh] * N_SPENDS + [builder.p2pkh] * N_SPENDS
    assert all(isinstance(builder.outputs[tx.inputs[0].prevout], TxOut) for tx in spends)
