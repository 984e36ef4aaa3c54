"""coin.wallet.spend, the pure part: sizes, dust, fee rates, coin selection, signing.

Oracles: the serialized weight of real transactions (coin.primitives), python-bitcoinlib's
SignatureHash for the digests our signatures commit to (checked with libsecp256k1 via
coincurve), coin.script.verify_input for every signed input, and a brute-force search
for branch-and-bound's least-waste changeless selection.
"""

import itertools
import random

import coincurve
import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript
from bitcoin.core.script import SIGVERSION_BASE, SIGVERSION_WITNESS_V0, SignatureHash

from coin.crypto import ecc
from coin.crypto.address import p2pkh_script, p2sh_script, p2tr_script, p2wpkh_script, p2wsh_script
from coin.crypto.hashes import hash160
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.script import STANDARD_SCRIPT_VERIFY_FLAGS, verify_input
from coin.wallet.accounts import ScriptType, scripts_for_pubkey
from coin.wallet.spend import (
    DUMMY_SIGNATURE_SIZE,
    FeeRate,
    InsufficientFunds,
    SigningError,
    SpendError,
    Utxo,
    _candidates,
    create_transaction,
    dust_threshold,
    estimate_vsize,
    estimate_weight,
    input_vsize,
    input_weight,
    select_coins_bnb,
    select_coins_largest_first,
    sign_transaction,
)

TYPES = list(ScriptType)
OUT_SCRIPTS = [p2wpkh_script(b"\x01" * 20), p2pkh_script(b"\x02" * 20), p2sh_script(b"\x03" * 20),
               p2wsh_script(b"\x04" * 32), p2tr_script(b"\x05" * 32)]


def _key(i: int) -> bytes:
    return (i + 1).to_bytes(32, "big")


def _utxo(i: int, value: int, st: ScriptType = ScriptType.P2WPKH) -> tuple[Utxo, bytes]:
    pub = ecc.pubkey_from_privkey(_key(i))
    script, _ = scripts_for_pubkey(st, pub)
    return Utxo(bytes([i % 256, i // 256]) * 16, i % 3, value, script, st, 10), _key(i)


def _dummy_signed(tx: Transaction, types) -> Transaction:
    """The transaction with 72-byte signatures and 33-byte keys in place."""
    sig, pub = b"\x30" + b"\x00" * (DUMMY_SIGNATURE_SIZE - 1), b"\x02" + b"\x00" * 32
    ins = []
    for txin, st in zip(tx.inputs, types, strict=True):
        if st is ScriptType.P2PKH:
            ins.append(txin._replace(script_sig=bytes([len(sig)]) + sig + bytes([33]) + pub))
        elif st is ScriptType.P2SH_P2WPKH:
            ins.append(txin._replace(script_sig=b"\x16\x00\x14" + bytes(20), witness=(sig, pub)))
        else:
            ins.append(txin._replace(witness=(sig, pub)))
    return tx.replace(inputs=ins)


# --- sizes --------------------------------------------------------------------------


def test_input_sizes_match_core():
    # Core's wallet: 68 vB per P2WPKH input, 91 for P2SH-P2WPKH, 148 (+1 WU) for P2PKH.
    assert [input_vsize(t) for t in TYPES] == [68, 91, 149]
    assert input_weight(ScriptType.P2WPKH) == 272


@pytest.mark.parametrize("combo", [c for n in (1, 2, 3) for c in itertools.combinations_with_replacement(TYPES, n)],
                         ids=lambda c: "+".join(t.value for t in c))
def test_estimate_weight_is_the_serialized_weight(combo):
    outs = OUT_SCRIPTS[: len(combo) + 1]
    tx = Transaction(2, [TxIn(OutPoint(bytes([n]) * 32, n)) for n in range(len(combo))],
                     [TxOut(1000, s) for s in outs], 0)
    full = _dummy_signed(tx, combo)
    assert estimate_weight(combo, outs) == full.weight
    assert estimate_vsize(combo, outs) == full.vsize


def test_estimate_weight_with_many_inputs():
    types = [ScriptType.P2WPKH] * 253    # a 3-byte input count
    tx = Transaction(2, [TxIn(OutPoint(bytes([n % 256]) * 32, n)) for n in range(253)],
                     [TxOut(1000, OUT_SCRIPTS[0])], 0)
    assert estimate_weight(types, OUT_SCRIPTS[:1]) == _dummy_signed(tx, types).weight


def test_dust_thresholds_are_cores():
    assert dust_threshold(p2wpkh_script(bytes(20))) == 294
    assert dust_threshold(p2pkh_script(bytes(20))) == 546
    assert dust_threshold(p2sh_script(bytes(20))) == 540
    assert dust_threshold(p2wsh_script(bytes(32))) == 330
    assert dust_threshold(b"\x6a\x04abcd") == 0


def test_feerate_units():
    assert FeeRate.from_sat_per_vb("1.5") == FeeRate(1500)
    assert FeeRate.from_btc_per_kvb("0.00001") == FeeRate(1000)
    assert FeeRate(1500).fee(141) == 212           # 211.5 rounds up
    assert FeeRate.from_fee(212, 141) == FeeRate(1503)
    with pytest.raises(SpendError):
        FeeRate.from_sat_per_vb("1.0005")
    with pytest.raises(SpendError):
        FeeRate.from_sat_per_vb("abc")


# --- selection ----------------------------------------------------------------------


def _brute_force_best_waste(cands, target, cost_of_change):
    best = None
    for r in range(1, len(cands) + 1):
        for combo in itertools.combinations(cands, r):
            value = sum(c.effective_value for c in combo)
            if target <= value <= target + cost_of_change:
                waste = sum(c.fee - c.long_term_fee for c in combo) + value - target
                best = waste if best is None else min(best, waste)
    return best


@pytest.mark.parametrize("seed", range(25), ids=lambda s: f"seed{s}")
def test_bnb_finds_the_least_waste_changeless_set(seed):
    rng = random.Random(seed)
    utxos = [_utxo(i, rng.choice([rng.randrange(1000, 200_000), 50_000, 100_000]))[0]
             for i in range(rng.randrange(3, 11))]
    feerate = FeeRate(rng.choice([1000, 5000, 20000]))
    cands = _candidates(utxos, feerate, FeeRate(10000))
    target = rng.randrange(5_000, 300_000)
    cost_of_change = rng.choice([500, 2000, 5000])
    chosen = select_coins_bnb(cands, target, cost_of_change)
    expected = _brute_force_best_waste(cands, target, cost_of_change)
    if expected is None:
        assert chosen is None
    else:
        value = sum(c.effective_value for c in chosen)
        assert target <= value <= target + cost_of_change
        waste = sum(c.fee - c.long_term_fee for c in chosen) + value - target
        assert waste == expected


def test_bnb_exact_match_and_largest_first_fallback():
    feerate = FeeRate(1000)
    utxos = [_utxo(i, v)[0] for i, v in enumerate([100_000, 50_000, 30_000, 20_000, 5_000])]
    cands = _candidates(utxos, feerate, FeeRate(1000))
    eff = {c.utxo.value: c.effective_value for c in cands}
    target = eff[50_000] + eff[20_000]
    chosen = select_coins_bnb(cands, target, 0)
    assert sorted(c.utxo.value for c in chosen) in ([20_000, 50_000],)
    assert select_coins_bnb(cands, 1_000_000, 0) is None
    lf = select_coins_largest_first(cands, 120_000, 130_000)
    assert [c.utxo.value for c in lf] == [100_000, 50_000]
    assert select_coins_largest_first(cands, 10**9, 10**9) is None


def test_create_transaction_change_and_dust():
    change_script = p2wpkh_script(b"\x09" * 20)
    rng = random.Random(1)
    coin, _ = _utxo(1, 100_000)
    dest = OUT_SCRIPTS[1]
    # plenty left: change output, fee exactly feerate * estimated vsize
    d = create_transaction([[coin]], [TxOut(50_000, dest)], FeeRate(2000),
                           change_script=change_script, change_type=ScriptType.P2WPKH, rng=rng)
    assert d.change_index is not None and len(d.tx.outputs) == 2
    assert d.fee == FeeRate(2000).fee(d.vsize)
    assert d.vsize == estimate_vsize([ScriptType.P2WPKH], [o.script_pubkey for o in d.tx.outputs])
    assert d.tx.outputs[d.change_index].value == 100_000 - 50_000 - d.fee
    # a remainder below the viable change amount goes to the fee: no change output
    no_change_fee = FeeRate(2000).fee(estimate_vsize([ScriptType.P2WPKH], [dest]))
    amount = 100_000 - no_change_fee - 500
    d = create_transaction([[coin]], [TxOut(amount, dest)], FeeRate(2000),
                           change_script=change_script, change_type=ScriptType.P2WPKH, rng=rng)
    assert d.change_index is None and d.fee == 100_000 - amount
    assert d.algorithm == "bnb"
    # exactly the no-change fee: spends all
    d = create_transaction([[coin]], [TxOut(100_000 - no_change_fee, dest)], FeeRate(2000),
                           change_script=change_script, change_type=ScriptType.P2WPKH, rng=rng)
    assert d.fee == no_change_fee and len(d.tx.outputs) == 1
    with pytest.raises(InsufficientFunds) as exc:
        create_transaction([[coin]], [TxOut(100_000 - no_change_fee + 1, dest)], FeeRate(2000),
                           change_script=change_script, change_type=ScriptType.P2WPKH)
    assert exc.value.available == 100_000


def test_create_transaction_prefers_confirmed_tier():
    change_script = p2wpkh_script(b"\x09" * 20)
    confirmed = [_utxo(1, 60_000)[0]]
    unconfirmed = [_utxo(2, 80_000)[0]]
    d = create_transaction([confirmed, unconfirmed], [TxOut(30_000, OUT_SCRIPTS[0])], FeeRate(1000),
                           change_script=change_script, change_type=ScriptType.P2WPKH)
    assert [u.value for u in d.spent] == [60_000]
    d = create_transaction([confirmed, unconfirmed], [TxOut(100_000, OUT_SCRIPTS[0])], FeeRate(1000),
                           change_script=change_script, change_type=ScriptType.P2WPKH)
    assert sorted(u.value for u in d.spent) == [60_000, 80_000]


def test_create_transaction_fee_cap_and_bad_amounts():
    change_script = p2wpkh_script(b"\x09" * 20)
    big = [_utxo(1, 10**9)[0]]
    with pytest.raises(SpendError, match="maximum"):
        create_transaction([big], [TxOut(10_000, OUT_SCRIPTS[0])], FeeRate(100_000_000),
                           change_script=change_script, change_type=ScriptType.P2WPKH)
    with pytest.raises(SpendError, match="positive"):
        create_transaction([big], [TxOut(0, OUT_SCRIPTS[0])], FeeRate(1000),
                           change_script=change_script, change_type=ScriptType.P2WPKH)
    with pytest.raises(SpendError, match="recipient"):
        create_transaction([big], [], FeeRate(1000), change_script=change_script,
                           change_type=ScriptType.P2WPKH)


@pytest.mark.parametrize("seed", range(6), ids=lambda s: f"seed{s}")
def test_feerate_is_met_after_signing(seed):
    rng = random.Random(seed)
    keys = {}
    utxos = []
    for i in range(8):
        u, k = _utxo(i, rng.randrange(20_000, 2_000_000), rng.choice(TYPES))
        utxos.append(u)
        keys[u.script_pubkey] = k
    rate = FeeRate(rng.choice([1000, 3500, 25000]))
    outs = [TxOut(rng.randrange(10_000, 500_000), rng.choice(OUT_SCRIPTS)) for _ in range(rng.randrange(1, 4))]
    d = create_transaction([utxos], outs, rate, change_script=p2wpkh_script(b"\x07" * 20),
                           change_type=ScriptType.P2WPKH, rng=rng, lock_time=123)
    signed = sign_transaction(d.tx, d.spent, keys.__getitem__)
    assert signed.vsize <= d.vsize
    assert d.fee >= rate.fee(signed.vsize)
    assert sum(u.value for u in d.spent) - sum(o.value for o in signed.outputs) == d.fee
    assert signed.lock_time == 123 and all(i.sequence == 0xFFFFFFFD for i in signed.inputs)


# --- signing ------------------------------------------------------------------------


def _bitcoinlib_sighash(tx: Transaction, index: int, utxo: Utxo, pub: bytes) -> bytes:
    mtx = CMutableTransaction(
        [CMutableTxIn(COutPoint(i.prevout.txid_bytes, i.prevout.index), nSequence=i.sequence)
         for i in tx.inputs],
        [CMutableTxOut(o.value, CScript(o.script_pubkey)) for o in tx.outputs],
        nLockTime=tx.lock_time, nVersion=tx.version)
    if utxo.script_type is ScriptType.P2PKH:
        return SignatureHash(CScript(utxo.script_pubkey), mtx, index, 1, sigversion=SIGVERSION_BASE)
    code = CScript(p2pkh_script(hash160(pub)))
    return SignatureHash(code, mtx, index, 1, amount=utxo.value, sigversion=SIGVERSION_WITNESS_V0)


@pytest.mark.parametrize("st", TYPES, ids=lambda s: s.value)
def test_signatures_verify_and_match_an_independent_sighash(st):
    spent, keys = [], {}
    for i in range(3):
        u, k = _utxo(i + 40, 100_000 + i, st if i else ScriptType.P2WPKH)
        spent.append(u)
        keys[u.script_pubkey] = k
    tx = Transaction(2, [TxIn(u.outpoint, b"", 0xFFFFFFFD) for u in spent],
                     [TxOut(250_000, OUT_SCRIPTS[3])], 77)
    signed = sign_transaction(tx, spent, keys.__getitem__)
    outs = [TxOut(u.value, u.script_pubkey) for u in spent]
    for n, (txin, u) in enumerate(zip(signed.inputs, spent, strict=True)):
        verify_input(signed, n, outs, STANDARD_SCRIPT_VERIFY_FLAGS)
        if u.script_type is ScriptType.P2PKH:
            sig, pub = txin.script_sig[1:1 + txin.script_sig[0]], txin.script_sig[-33:]
        else:
            sig, pub = txin.witness
        assert sig[-1] == 1
        der = sig[:-1]
        digest = _bitcoinlib_sighash(signed, n, u, pub)
        assert coincurve.PublicKey(pub).verify(der, digest, hasher=None)
        # low-S
        s_len = der[5 + der[3]]
        s = int.from_bytes(der[6 + der[3]: 6 + der[3] + s_len], "big")
        assert s <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
        if u.script_type is ScriptType.P2SH_P2WPKH:
            assert txin.script_sig == b"\x16\x00\x14" + hash160(pub)


def test_signing_with_the_wrong_key_is_caught():
    u, _ = _utxo(5, 100_000)
    tx = Transaction(2, [TxIn(u.outpoint)], [TxOut(90_000, OUT_SCRIPTS[0])], 0)
    with pytest.raises(SigningError, match="input 0"):
        sign_transaction(tx, [u], lambda script: _key(6))
