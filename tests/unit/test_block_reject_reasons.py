"""Every block and transaction-consensus reject reason of rpc.md section 5, produced once.

Each test builds a block with tests/blockbuilder.py on a regtest chain held in memory
(MemoryChain: check_block, contextual checks, connect_block) and asserts Core's reason.
A failing block leaves the chain untouched, so the tests share one base chain.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from blockbuilder import OP_TRUE_SCRIPT, BlockBuilder, IndexEntry, MemoryChain, Utxo

from coin.consensus.block_check import (
    check_block,
    contextual_check_block_header,
    is_block_mutation,
)
from coin.consensus.coins import Coin
from coin.consensus.constants import MAX_MONEY, MAX_SCRIPT_SIZE
from coin.consensus.errors import Rejection, RejectKind
from coin.consensus.pow import bits_to_target, check_proof_of_work, get_next_work_required
from coin.consensus.tx_check import check_transaction
from coin.crypto.address import p2wsh_script
from coin.crypto.hashes import sha256
from coin.mining.template import create_coinbase
from coin.params import get_params
from coin.primitives import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut


@pytest.fixture(scope="module")
def base():
    """A regtest chain of 110 blocks: coinbases 1..10 are mature for the next block."""
    builder = BlockBuilder()
    chain = MemoryChain(builder.params)
    for block in builder.build_chain(110):
        chain.process_block(block)
    assert chain.height == 110
    return builder, chain


def _reject(chain, block, **kwargs) -> Rejection:
    before = (chain.tip, dict(chain.view.coins))
    with pytest.raises(Rejection) as info:
        chain.process_block(block, **kwargs)
    assert (chain.tip, chain.view.coins) == before
    return info.value


def _bad(builder, txs=(), **kwargs):
    return builder.next_block(txs, set_tip=False, **kwargs)


def _replace_tx(block, i, tx):
    txs = list(block.txs)
    txs[i] = tx
    return Block(block.header, txs)


# -- headers ----------------------------------------------------------------------------

def test_valid_block_connects(base):
    builder, chain = base
    tx = builder.spend([builder.coinbase_utxo(1)], n_outputs=3, fee=2000)
    block = _bad(builder, [tx])
    fork = chain.copy()
    fork.process_block(block)
    assert fork.height == 111
    assert block.txs[0].outputs[0].value == 50 * 10**8 + 2000
    assert all(fork.view.have_coin(OutPoint(tx.txid_bytes, i)) for i in range(3))
    assert not fork.view.have_coin(builder.coinbase_utxo(1).outpoint)


def test_high_hash(base):
    builder, chain = base

    def unmine(block):
        for nonce in range(1000):
            header = block.header.replace(nonce=nonce)
            if not check_proof_of_work(header.hash_bytes, header.bits, builder.params):
                return Block(header, block.txs)
        raise AssertionError("every nonce meets the target")

    err = _reject(chain, _bad(builder, tweak_after=unmine))
    assert err.reason == "high-hash" and err.kind is RejectKind.HEADER


def test_bad_diffbits_regtest(base):
    builder, chain = base
    assert _reject(chain, _bad(builder, bits=0x207FFFFE)).reason == "bad-diffbits"


def _mainnet_period(spacing):
    """Index entries 0..2015 of a mainnet-like chain with blocks `spacing` seconds apart."""
    params = get_params("main")
    bits = 0x1B0404CB
    entry = None
    for height in range(2016):
        header = BlockHeader(2, entry.hash_bytes if entry else b"\x00" * 32, b"\x00" * 32,
                             1_300_000_000 + height * spacing, bits, 0)
        entry = IndexEntry(header, entry, height)
    return params, entry, bits


@pytest.mark.parametrize("spacing", [300, 600, 1200, 60, 6000])
def test_bad_diffbits_mainnet_retarget(spacing):
    params, prev, old_bits = _mainnet_period(spacing)
    time = prev.header.time + spacing
    # Independent arithmetic: actual timespan over the 2015 intervals, clamped to
    # [T/4, 4T], scales the target (compact encoding rounds down to 3 mantissa bytes).
    timespan = params.pow_target_timespan
    actual = max(timespan // 4, min(2015 * spacing, timespan * 4))
    target = bits_to_target(old_bits) * actual // timespan
    size = (target.bit_length() + 7) // 8
    mantissa = target >> (8 * (size - 3))
    if mantissa & 0x800000:
        mantissa >>= 8
        size += 1
    expected_bits = (size << 24) | mantissa
    assert get_next_work_required(prev, time, params) == expected_bits
    good = BlockHeader(4, prev.hash_bytes, b"\x00" * 32, time, expected_bits, 0)
    contextual_check_block_header(good, prev, params, time)
    if expected_bits != old_bits:
        stale = good.replace(bits=old_bits)
        with pytest.raises(Rejection) as info:
            contextual_check_block_header(stale, prev, params, time)
        assert info.value.reason == "bad-diffbits"
    # Off the retarget boundary the bits must stay the same.
    mid = prev.get_ancestor(1000)
    header = BlockHeader(4, mid.hash_bytes, b"\x00" * 32, mid.header.time + 600, old_bits + 1, 0)
    with pytest.raises(Rejection, match="bad-diffbits"):
        contextual_check_block_header(header, mid, params, header.time)


def test_time_too_old(base):
    builder, chain = base
    mtp = chain.tip.median_time_past()
    assert _reject(chain, _bad(builder, time=mtp)).reason == "time-too-old"
    # One second later is fine for the header checks.
    header = _bad(builder, time=mtp + 1).header
    contextual_check_block_header(header, chain.tip, builder.params, mtp + 1)


def test_time_too_new(base):
    builder, chain = base
    block = _bad(builder)
    now = block.header.time - 7201
    with pytest.raises(Rejection) as info:
        contextual_check_block_header(block.header, chain.tip, builder.params, now)
    err = info.value
    assert err.reason == "time-too-new"
    assert err.kind is RejectKind.TIME_FUTURE and err.ban_score == 0
    contextual_check_block_header(block.header, chain.tip, builder.params, now + 1)


@pytest.mark.parametrize("version,shown", [(3, "0x00000003"), (1, "0x00000001"),
                                           (-1, "0xffffffff"), (-0x7FFFFFFF, "0x80000001")])
def test_bad_version(base, version, shown):
    builder, chain = base
    err = _reject(chain, _bad(builder, version=version))
    assert err.reason == f"bad-version({shown})"
    assert err.debug == f"rejected nVersion={shown} block"


# -- CheckBlock -------------------------------------------------------------------------

def test_bad_txnmrklroot(base):
    builder, chain = base

    def wrong_root(block):
        return Block(block.header.replace(merkle_root_bytes=b"\x01" * 32), block.txs)

    err = _reject(chain, _bad(builder, tweak=wrong_root, refresh=False))
    assert err.reason == "bad-txnmrklroot" and is_block_mutation(err)


def test_bad_txns_duplicate(base):
    builder, chain = base
    tx1 = builder.spend([builder.coinbase_utxo(2)], fee=1000)
    tx2 = builder.spend([builder.coinbase_utxo(3)], fee=1000)
    good = _bad(builder, [tx1, tx2])
    # [cb, tx1, tx2, tx2] has the merkle root of [cb, tx1, tx2] (CVE-2012-2459).
    dup = Block(good.header, [*good.txs, tx2])
    assert dup.compute_merkle_root() == (good.header.merkle_root_bytes, True)
    err = _reject(chain, dup)
    assert err.reason == "bad-txns-duplicate" and is_block_mutation(err)


def test_bad_blk_length(base):
    builder, chain = base

    def no_txs(block):
        return Block(block.header.replace(merkle_root_bytes=b"\x00" * 32), [])

    assert _reject(chain, _bad(builder, tweak=no_txs, refresh=False)).reason == "bad-blk-length"
    # Two transactions of 600 kB each: each fine, the block's stripped size too big.
    big = [Transaction(1, [TxIn(OutPoint(bytes([i]) * 32, 0))], [TxOut(0, b"\x6a" * 600_000)], 0)
           for i in (1, 2)]
    err = _reject(chain, _bad(builder, big, fees=0))
    assert err.reason == "bad-blk-length" and err.debug == "size limits failed"


def test_bad_cb_missing_and_multiple(base):
    builder, chain = base
    tx = builder.spend([builder.coinbase_utxo(4)], fee=1000)

    def drop_coinbase(block):
        return Block(block.header, block.txs[1:])

    assert _reject(chain, _bad(builder, [tx], tweak=drop_coinbase)).reason == "bad-cb-missing"
    second = create_coinbase(5, OP_TRUE_SCRIPT, 1, builder.params, extra_nonce=b"x")
    assert _reject(chain, _bad(builder, [second])).reason == "bad-cb-multiple"


def test_bad_blk_sigops_legacy(base):
    builder, chain = base
    # 20,001 OP_CHECKSIG in an output: legacy sigops x4 > 80,000.
    tx = builder.spend([builder.coinbase_utxo(5)], outputs=[TxOut(1000, b"\xac" * 20_001)])
    err = _reject(chain, _bad(builder, [tx]))
    assert (err.reason, err.debug) == ("bad-blk-sigops", "out-of-bounds SigOpCount")
    # 20,000 is the limit, coinbase included: the coinbase has none, so this one is fine.
    ok = builder.spend([builder.coinbase_utxo(5)], outputs=[TxOut(1000, b"\xac" * 20_000)])
    check_block(_bad(builder, [ok]), builder.params)


@pytest.mark.parametrize("reason,make", [
    ("bad-txns-vin-empty", lambda u: Transaction(2, [], [TxOut(1, b"")], 0)),
    ("bad-txns-vout-empty", lambda u: Transaction(2, [TxIn(u.outpoint)], [], 0)),
    ("bad-txns-vout-negative", lambda u: Transaction(2, [TxIn(u.outpoint)], [TxOut(-1, b"")], 0)),
    ("bad-txns-vout-toolarge", lambda u: Transaction(2, [TxIn(u.outpoint)], [TxOut(MAX_MONEY + 1, b"")], 0)),
    ("bad-txns-txouttotal-toolarge",
     lambda u: Transaction(2, [TxIn(u.outpoint)], [TxOut(MAX_MONEY, b""), TxOut(1, b"")], 0)),
    ("bad-txns-inputs-duplicate", lambda u: Transaction(2, [TxIn(u.outpoint)] * 2, [TxOut(1, b"")], 0)),
    ("bad-txns-prevout-null", lambda u: Transaction(
        2, [TxIn(u.outpoint), TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF))], [TxOut(1, b"")], 0)),
    ("bad-txns-oversize", lambda u: Transaction(2, [TxIn(u.outpoint)], [TxOut(0, b"\x6a" * 1_000_001)], 0)),
])
def test_check_transaction_reasons_in_a_block(base, reason, make):
    builder, chain = base
    tx = make(builder.coinbase_utxo(6))
    err = _reject(chain, _bad(builder, [tx], fees=0))
    if reason == "bad-txns-oversize":
        assert err.reason == "bad-blk-length"  # the block is over the limit first
        with pytest.raises(Rejection, match=reason):
            check_transaction(tx)
        return
    assert err.reason == reason
    assert err.debug.startswith(f"Transaction check failed (tx hash {tx.txid})")


def test_bad_cb_length(base):
    builder, chain = base

    def short_coinbase(block):
        cb = block.txs[0]
        return _replace_tx(block, 0, cb.replace(inputs=[cb.inputs[0]._replace(script_sig=b"\x01" + b"\x00" * 100)]))

    assert _reject(chain, _bad(builder, tweak=short_coinbase)).reason == "bad-cb-length"


# -- ContextualCheckBlock ---------------------------------------------------------------

def test_bad_txns_nonfinal_lock_time(base):
    builder, chain = base
    height = chain.height + 1
    tx = builder.spend([builder.coinbase_utxo(7)], lock_time=height, fee=1000)
    err = _reject(chain, _bad(builder, [tx]))
    assert (err.reason, err.debug) == ("bad-txns-nonfinal", "non-final transaction")
    # Lock time height - 1 is final; so is any lock time with all sequences final.
    check = chain.copy()
    check.process_block(_bad(builder, [builder.spend([builder.coinbase_utxo(7)],
                                                      lock_time=height - 1, fee=1000)]))
    # Time locks compare with the parent's median time past (BIP-0113), not the block time.
    mtp = chain.tip.median_time_past()
    late = builder.spend([builder.coinbase_utxo(8)], lock_time=mtp, fee=1000)
    assert _reject(chain, _bad(builder, [late], time=mtp + 5000)).reason == "bad-txns-nonfinal"
    early = builder.spend([builder.coinbase_utxo(8)], lock_time=mtp - 1, fee=1000)
    check.process_block(_bad(builder, [early], prev=check.tip))


def test_bad_txns_nonfinal_bip68(base):
    builder, chain = base
    # Coinbase of block 10 at depth 101 in the next block: a relative lock of 102 blocks fails.
    utxo = builder.coinbase_utxo(10)
    tx = builder.spend([utxo], sequence=102, fee=1000)
    err = _reject(chain, _bad(builder, [tx]))
    assert err.reason == "bad-txns-nonfinal"
    assert err.debug == f"contains a non-BIP68-final transaction {tx.txid}"
    ok = chain.copy()
    ok.process_block(_bad(builder, [builder.spend([utxo], sequence=101, fee=1000)]))
    # Version 1 transactions have no relative lock time.
    v1 = builder.spend([builder.coinbase_utxo(9)], sequence=5000, version=1, fee=1000)
    ok.process_block(_bad(builder, [v1], prev=ok.tip))


def test_bad_cb_height(base):
    builder, chain = base
    height = chain.height + 1

    def wrong_height(block):
        cb = create_coinbase(height + 1, builder.p2wpkh, block.txs[0].outputs[0].value, builder.params)
        return _replace_tx(block, 0, cb)

    err = _reject(chain, _bad(builder, tweak=wrong_height))
    assert (err.reason, err.debug) == ("bad-cb-height", "block height mismatch in coinbase")


def test_witness_commitment_reasons(base):
    builder, chain = base
    tx = builder.spend([builder.coinbase_utxo(2)], fee=1000)
    assert tx.has_witness()

    def nonce(block):
        cb = block.txs[0]
        return _replace_tx(block, 0, cb.replace(inputs=[cb.inputs[0]._replace(witness=(b"\x00" * 33,))]))

    err = _reject(chain, _bad(builder, [tx], tweak=nonce, refresh=False))
    assert err.reason == "bad-witness-nonce-size" and is_block_mutation(err)

    def other_witness(block):
        t = block.txs[1]
        sig, pub = t.inputs[0].witness
        return _replace_tx(block, 1, t.replace(inputs=[t.inputs[0]._replace(witness=(sig + b"\x00", pub))]))

    err = _reject(chain, _bad(builder, [tx], tweak=other_witness, refresh=False))
    assert err.reason == "bad-witness-merkle-match" and is_block_mutation(err)

    def no_commitment(block):
        cb = block.txs[0]
        cb = cb.replace(inputs=[cb.inputs[0]._replace(witness=())], outputs=cb.outputs[:1])
        block = _replace_tx(block, 0, cb)
        return Block(block.header.replace(merkle_root_bytes=block.compute_merkle_root()[0]), block.txs)

    err = _reject(chain, _bad(builder, [tx], tweak=no_commitment, refresh=False))
    assert err.reason == "unexpected-witness" and is_block_mutation(err)


def test_bad_blk_weight(base):
    builder, chain = base
    tx = builder.spend([builder.coinbase_utxo(3)], fee=1000)
    sig, pub = tx.inputs[0].witness
    fat = tx.replace(inputs=[tx.inputs[0]._replace(witness=(sig, pub, b"\x00" * 4_000_000))])
    block = _bad(builder, [fat])
    assert block.base_size * 4 <= 4_000_000 < block.weight
    err = _reject(chain, block)
    assert err.reason == "bad-blk-weight" and not is_block_mutation(err)


# -- ConnectBlock -----------------------------------------------------------------------

def test_bad_txns_bip30(base):
    builder, chain = base
    tx = builder.spend([builder.coinbase_utxo(4)], n_outputs=2, fee=1000)
    fork = chain.copy()
    fork.process_block(_bad(builder, [tx]))
    # The same transaction again: its outputs are unspent, so it may not be recreated.
    err = _reject(fork, _bad(builder, [tx], prev=builder.entries[fork.tip.hash_bytes]))
    assert (err.reason, err.debug) == ("bad-txns-BIP30", "tried to overwrite transaction")


def test_bad_cb_amount(base):
    builder, chain = base
    tx = builder.spend([builder.coinbase_utxo(5)], fee=1000)
    err = _reject(chain, _bad(builder, [tx], fees=1001))
    limit = 50 * 10**8 + 1000
    assert err.reason == "bad-cb-amount"
    assert err.debug == f"coinbase pays too much (actual={limit + 1} vs limit={limit})"
    # Paying less than allowed is fine.
    ok = chain.copy()
    ok.process_block(_bad(builder, [tx], fees=0))


def test_missing_and_premature_inputs(base):
    builder, chain = base
    ghost = Utxo(OutPoint(b"\x42" * 32, 0), TxOut(10**8, builder.p2wpkh))
    tx = builder.spend([ghost], fee=1000)
    err = _reject(chain, _bad(builder, [tx], fees=0))
    assert err.reason == "bad-txns-inputs-missingorspent"
    assert err.kind is RejectKind.CONSENSUS and err.ban_score == 100
    # The coinbase of block 12 is at depth 99 in block 111.
    young = builder.spend([builder.coinbase_utxo(12)], fee=1000)
    err = _reject(chain, _bad(builder, [young]))
    assert err.reason == "bad-txns-premature-spend-of-coinbase"
    assert err.debug == f"tried to spend coinbase at depth 99 in transaction {young.txid}"
    # Spending an output created earlier in the same block is fine; later in it is not.
    parent = builder.spend([builder.coinbase_utxo(6)], fee=1000)
    child = builder.spend(builder.utxos_of(parent), fee=1000)
    ok = chain.copy()
    ok.process_block(_bad(builder, [parent, child]))
    err = _reject(chain, _bad(builder, [child, parent]))
    assert err.reason == "bad-txns-inputs-missingorspent"


def _with_coins(chain, builder, values):
    """A copy of `chain` whose view also holds OP_TRUE coins of the given values."""
    fork = chain.copy()
    utxos = []
    for i, value in enumerate(values):
        op = OutPoint(bytes([0xC0 + i]) * 32, 0)
        fork.view.add_coin(op, Coin(TxOut(value, OP_TRUE_SCRIPT), 1, False), False)
        utxos.append(Utxo(op, TxOut(value, OP_TRUE_SCRIPT)))
    return fork, utxos


def test_inputvalues_outofrange(base):
    builder, chain = base
    fork, (big,) = _with_coins(chain, builder, [MAX_MONEY + 1])
    tx = builder.spend([big], outputs=[TxOut(1, OP_TRUE_SCRIPT)])
    assert _reject(fork, _bad(builder, [tx], fees=0)).reason == "bad-txns-inputvalues-outofrange"
    fork, utxos = _with_coins(chain, builder, [MAX_MONEY, 1])
    tx = builder.spend(utxos, outputs=[TxOut(1, OP_TRUE_SCRIPT)])
    assert _reject(fork, _bad(builder, [tx], fees=0)).reason == "bad-txns-inputvalues-outofrange"


def test_in_belowout(base):
    builder, chain = base
    utxo = builder.coinbase_utxo(7)
    tx = builder.spend([utxo], outputs=[TxOut(utxo.txout.value + 1, builder.p2wpkh)])
    err = _reject(chain, _bad(builder, [tx], fees=0))
    assert err.reason == "bad-txns-in-belowout"
    assert err.debug == f"value in (50.00) < value out (50.00000001) in transaction {tx.txid}"


def test_accumulated_fee_outofrange(base):
    builder, chain = base
    fork, utxos = _with_coins(chain, builder, [MAX_MONEY, MAX_MONEY])
    txs = [builder.spend([u], outputs=[TxOut(0, OP_TRUE_SCRIPT)]) for u in utxos]
    err = _reject(fork, _bad(builder, txs, fees=0))
    assert err.reason == "bad-txns-accumulated-fee-outofrange"


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "executor"])
def test_mandatory_script_verify_flag_failed(base, parallel):
    builder, chain = base
    tx = builder.spend([builder.coinbase_utxo(8)], fee=1000)
    sig, pub = tx.inputs[0].witness
    # Change the last byte of S (DER stays valid): the signature no longer verifies.
    bad_sig = sig[:-2] + bytes([sig[-2] ^ 1]) + sig[-1:]
    bad = tx.replace(inputs=[tx.inputs[0]._replace(witness=(bad_sig, pub))])
    block = _bad(builder, [bad])
    if parallel:
        with ThreadPoolExecutor(2) as executor:
            err = _reject(chain, block, executor=executor)
    else:
        err = _reject(chain, block)
    assert err.reason == ("mandatory-script-verify-flag-failed (Script evaluated without error "
                          "but finished with a false/empty top stack element)")
    assert err.debug.startswith(f"input 0 of {bad.txid}")
    # Without script checks (assumed valid) the block connects.
    ok = chain.copy()
    ok.process_block(block, check_scripts=False)


def test_bad_blk_sigops_cost_in_connect(base):
    builder, chain = base
    # Witness sigops are only counted at connect time (they need the spent outputs):
    # a P2WSH script of 3,000 x (OP_16 OP_CHECKMULTISIG) counts 48,000; two inputs
    # spending it exceed 80,000 (the scripts are never run: the count fails first).
    witness_script = b"\x60\xae" * 3000
    p2wsh = p2wsh_script(sha256(witness_script))
    fund = builder.spend([builder.coinbase_utxo(9)], outputs=[TxOut(10**8, p2wsh)] * 2)
    spend = Transaction(2, [TxIn(OutPoint(fund.txid_bytes, i), b"", 0xFFFFFFFF, (witness_script,))
                            for i in range(2)], [TxOut(10**8, OP_TRUE_SCRIPT)], 0)
    block = _bad(builder, [fund, spend])
    check_block(block, builder.params)   # the legacy count is fine
    err = _reject(chain, block)
    assert (err.reason, err.debug) == ("bad-blk-sigops", "too many sigops")


def test_script_size_limit_outputs_are_not_added(base):
    builder, chain = base
    tx = builder.spend([builder.coinbase_utxo(10)],
                       outputs=[TxOut(1, b"\x6a"), TxOut(1, b"\x51" * (MAX_SCRIPT_SIZE + 1)),
                                TxOut(1, OP_TRUE_SCRIPT)])
    ok = chain.copy()
    ok.process_block(_bad(builder, [tx]))
    assert [ok.view.have_coin(OutPoint(tx.txid_bytes, i)) for i in range(3)] == [False, False, True]
