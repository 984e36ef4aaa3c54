"""Spending: fee rates, exact size estimates, coin selection, signing, bumpfee.

The pure part works on plain values (no wallet, no node) so it can be tested alone:

- `FeeRate`: integer sat/kvB like Core's CFeeRate; `fee(vsize)` rounds UP (Core's
  EvaluateFeeUp), so a transaction never pays below the rate asked for.
- Sizes: `input_weight` per script type with Core's dummy 72-byte signatures (the
  maximum: DER with a 33-byte R, plus the sighash byte), `output_size`,
  `estimate_weight` of a whole transaction (marker/flag and the per-input witness
  counts included), `estimate_vsize`. Real signatures are 71 or 72 bytes, so the
  estimate is exact or over by a few weight units; it is never under.
- `dust_threshold` (Core's GetDustThreshold at the 3 sat/vB dust relay rate).
- Selection: `select_coins_bnb` is Core's SelectCoinsBnB (depth-first branch-and-bound
  over effective values, 100,000 tries, the waste-pruning when fees are high, the
  equal-value skip) for a changeless match within `cost_of_change`;
  `select_coins_largest_first` the fallback. `create_transaction` runs them
  (confirmed coins first, then our own unconfirmed change too), adds change to a
  fresh change script when it is worth spending (Core's min_viable_change: at least
  the dust threshold and the cost of spending it later; below that the remainder goes
  to the fee), shuffles inputs and places change at a random position, signals
  BIP-0125 (nSequence 0xfffffffd) by default and sets anti-fee-sniping nLockTime.
- `sign_transaction`: P2WPKH and P2SH-P2WPKH (BIP-0143) and P2PKH (legacy) inputs,
  SIGHASH_ALL, low-S RFC 6979 through coin.crypto.ecc.sign; every input is then
  verified with coin.script.verify_input under the standard flags before anything
  leaves the wallet.

The wallet part (`send`, `bump_fee`, `resolve_feerate`, `node_incremental_relay_feerate`,
`spendable_coins`, `record_sent`) reads coins from the store and talks to the node:
estimatesmartfee (BTC/kvB -> sat/vB, floor 1 sat/vB), getmempoolinfo (the node's
incrementalrelayfee, for bumpfee), sendrawtransaction.

Errors: `InsufficientFunds` (amounts needed and available, in satoshis and in the
message in BTC); `SpendError` (a ValueError) for bad requests: dust or non-positive
amounts, fee rate below the floor or a fee above the 0.1 BTC cap, a transaction that
bumpfee cannot replace (with Core's messages); `SigningError` if a signed input fails
verification (a bug: nothing is broadcast). RPC errors from the node propagate.

BIPs: BIP-0125 (opt-in RBF and its replacement rules 3 and 4), BIP-0141/0143 (weight,
segwit v0 signatures), BIP-0069 is NOT used (Core randomises order instead).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from coin.crypto import ecc
from coin.crypto.address import address_to_script, p2pkh_script, parse_witness_program
from coin.crypto.hashes import hash160
from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.rpc.client import RPCError
from coin.script import STANDARD_SCRIPT_VERIFY_FLAGS, PrecomputedTxData, verify_input
from coin.script.errors import ScriptError
from coin.script.sighash import SIGHASH_ALL, legacy_sighash, segwit_v0_sighash

from .accounts import CHANGE, ScriptType

__all__ = [
    "COIN",
    "COINBASE_MATURITY",
    "DEFAULT_MAX_TX_FEE",
    "DISCARD_FEERATE",
    "DUMMY_SIGNATURE_SIZE",
    "DUST_RELAY_FEERATE",
    "INCREMENTAL_RELAY_FEERATE",
    "LONG_TERM_FEERATE",
    "MAX_STANDARD_TX_WEIGHT",
    "MIN_FEERATE",
    "SEQUENCE_NONFINAL",
    "SEQUENCE_RBF",
    "WALLET_INCREMENTAL_RELAY_FEERATE",
    "BumpResult",
    "Draft",
    "FeeRate",
    "InsufficientFunds",
    "SendResult",
    "SigningError",
    "SpendError",
    "Utxo",
    "blocks_to_maturity",
    "bump_fee",
    "create_transaction",
    "dust_threshold",
    "estimate_vsize",
    "estimate_weight",
    "input_weight",
    "output_size",
    "node_incremental_relay_feerate",
    "record_sent",
    "resolve_feerate",
    "select_coins_bnb",
    "select_coins_largest_first",
    "send",
    "sign_transaction",
    "spendable_coins",
]

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN
COINBASE_MATURITY = 100
SEQUENCE_RBF = 0xFFFFFFFD          # Core's MAX_BIP125_RBF_SEQUENCE
SEQUENCE_NONFINAL = 0xFFFFFFFE     # Core's CTxIn::MAX_SEQUENCE_NONFINAL (nLockTime enforced)
MAX_STANDARD_TX_WEIGHT = 400_000
DUMMY_SIGNATURE_SIZE = 72          # DER with 33-byte R and 32-byte S, plus the sighash byte
_PUBKEY_SIZE = 33
_BNB_TOTAL_TRIES = 100_000


# --- fee rates ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class FeeRate:
    """A fee rate in satoshis per 1000 virtual bytes (Core's CFeeRate)."""

    sat_per_kvb: int

    def __post_init__(self):
        if self.sat_per_kvb < 0:
            raise SpendError("fee rate must not be negative")

    @classmethod
    def from_sat_per_vb(cls, value) -> FeeRate:
        """From sat/vB (int, str or Decimal; at most 3 decimals, as Core's fee_rate)."""
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            raise SpendError(f"invalid fee rate {value!r}") from None
        if not d.is_finite() or d < 0:
            raise SpendError(f"invalid fee rate {value!r}")
        kvb = d * 1000
        if kvb != kvb.to_integral_value():
            raise SpendError("fee rate has more than 3 decimals of sat/vB")
        return cls(int(kvb))

    @classmethod
    def from_btc_per_kvb(cls, value) -> FeeRate:
        """From BTC/kvB (estimatesmartfee's unit), rounded up to a whole satoshi."""
        d = Decimal(str(value)) * COIN
        return cls(int(d.to_integral_value(rounding=ROUND_CEILING)))

    @classmethod
    def from_fee(cls, fee: int, vsize: int) -> FeeRate:
        """The rate paid by `fee` over `vsize` vbytes (truncated, as CFeeRate(fee, size))."""
        return cls(fee * 1000 // vsize if vsize > 0 else 0)

    def fee(self, vsize: int) -> int:
        """Fee in satoshis for `vsize` virtual bytes, rounded up."""
        return -(-self.sat_per_kvb * vsize // 1000)

    @property
    def sat_per_vb(self) -> Decimal:
        return Decimal(self.sat_per_kvb) / 1000

    def __add__(self, other: FeeRate) -> FeeRate:
        return FeeRate(self.sat_per_kvb + other.sat_per_kvb)

    def __str__(self) -> str:
        return f"{self.sat_per_vb:.3f} sat/vB"


MIN_FEERATE = FeeRate(1000)                      # the floor: min relay fee, 1 sat/vB
DUST_RELAY_FEERATE = FeeRate(3000)               # Core's DUST_RELAY_TX_FEE
DISCARD_FEERATE = FeeRate(10000)                 # Core's DEFAULT_DISCARD_FEE
LONG_TERM_FEERATE = FeeRate(10000)               # Core's DEFAULT_CONSOLIDATE_FEERATE
INCREMENTAL_RELAY_FEERATE = FeeRate(1000)        # Core's DEFAULT_INCREMENTAL_RELAY_FEE
WALLET_INCREMENTAL_RELAY_FEERATE = FeeRate(5000)  # Core's WALLET_INCREMENTAL_RELAY_FEE
DEFAULT_MAX_TX_FEE = COIN // 10                  # Core's -maxtxfee default, 0.1 BTC


# --- errors -------------------------------------------------------------------------


class SpendError(ValueError):
    """A payment or replacement that cannot be made as asked (message says why)."""


class InsufficientFunds(SpendError):
    """Not enough spendable coins: `needed` and `available` in satoshis."""

    def __init__(self, needed: int, available: int, immature: int = 0, message: str | None = None):
        self.needed = needed
        self.available = available
        self.immature = immature
        if message is None:
            message = (f"Insufficient funds: need {_btc(needed)} BTC (amount plus fee), "
                       f"spendable {_btc(available)} BTC")
            if immature:
                message += f" ({_btc(immature)} BTC more is immature coinbase)"
        super().__init__(message)


class SigningError(Exception):
    """A signed input failed verification: a wallet bug, the transaction is not sent."""


def _btc(sats: int) -> str:
    sign = "-" if sats < 0 else ""
    q, r = divmod(abs(sats), COIN)
    return f"{sign}{q}.{r:08d}"


# --- sizes --------------------------------------------------------------------------

# (non-witness bytes, witness weight units incl. the stack count) per input type, with
# a 72-byte signature and a 33-byte compressed key.
_WITNESS_STACK = 1 + 1 + DUMMY_SIGNATURE_SIZE + 1 + _PUBKEY_SIZE          # 108
_INPUT_SHAPE = {
    ScriptType.P2WPKH: (36 + 1 + 4, _WITNESS_STACK),                         # 41 B + 108 WU
    ScriptType.P2SH_P2WPKH: (36 + 1 + 23 + 4, _WITNESS_STACK),               # 64 B + 108 WU
    ScriptType.P2PKH: (36 + 1 + (1 + DUMMY_SIGNATURE_SIZE + 1 + _PUBKEY_SIZE) + 4, 0),  # 148 B
}


def _compact_size_len(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5 if n <= 0xFFFFFFFF else 9


def input_weight(script_type: ScriptType) -> int:
    """Weight of one signed input of `script_type` as Core's GetTransactionInputWeight
    counts it (a non-witness input still counts its empty witness stack: 1 WU)."""
    base, witness = _INPUT_SHAPE[script_type]
    return base * 4 + (witness or 1)


def input_vsize(script_type: ScriptType) -> int:
    """Core's input vsize: ceil(input_weight / 4): 68, 91, 149."""
    return (input_weight(script_type) + 3) // 4


def output_size(script_pubkey: bytes) -> int:
    """Serialized size of an output paying `script_pubkey`."""
    return 8 + _compact_size_len(len(script_pubkey)) + len(script_pubkey)


def estimate_weight(input_types: Sequence[ScriptType], output_scripts: Sequence[bytes]) -> int:
    """Exact weight of the transaction once signed with 72-byte signatures."""
    segwit = any(_INPUT_SHAPE[t][1] for t in input_types)
    base = 4 + _compact_size_len(len(input_types)) + _compact_size_len(len(output_scripts)) + 4
    base += sum(_INPUT_SHAPE[t][0] for t in input_types)
    base += sum(output_size(s) for s in output_scripts)
    weight = base * 4
    if segwit:
        weight += 2 + sum(_INPUT_SHAPE[t][1] or 1 for t in input_types)
    return weight


def estimate_vsize(input_types: Sequence[ScriptType], output_scripts: Sequence[bytes]) -> int:
    return (estimate_weight(input_types, output_scripts) + 3) // 4


def dust_threshold(script_pubkey: bytes, dust_feerate: FeeRate = DUST_RELAY_FEERATE) -> int:
    """Core's GetDustThreshold: the value below which an output to `script_pubkey` is dust
    (the fee, at the dust relay rate, of the output plus the input that would spend it):
    294 sat for P2WPKH, 540 for P2SH, 546 for P2PKH; 0 for an unspendable script."""
    if (script_pubkey[:1] == b"\x6a") or len(script_pubkey) > 10_000:
        return 0
    size = output_size(script_pubkey)
    if parse_witness_program(script_pubkey) is not None:
        size += 32 + 4 + 1 + 107 // 4 + 4
    else:
        size += 32 + 4 + 1 + 107 + 4
    return dust_feerate.fee(size)


# --- coins and selection ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Utxo:
    """A coin the wallet can spend, with what selection and signing need."""

    txid_bytes: bytes
    vout: int
    value: int
    script_pubkey: bytes
    script_type: ScriptType
    height: int | None = None
    coinbase: bool = False

    @property
    def outpoint(self) -> OutPoint:
        return OutPoint(self.txid_bytes, self.vout)

    @property
    def txid(self) -> str:
        return self.txid_bytes[::-1].hex()


@dataclass(frozen=True, slots=True)
class _Candidate:
    utxo: Utxo
    effective_value: int
    fee: int
    long_term_fee: int
    weight: int


def _candidates(utxos: Sequence[Utxo], feerate: FeeRate, long_term: FeeRate) -> list[_Candidate]:
    out = []
    for u in utxos:
        vsize = input_vsize(u.script_type)
        fee = feerate.fee(vsize)
        if u.value - fee > 0:
            out.append(_Candidate(u, u.value - fee, fee, long_term.fee(vsize),
                                  input_weight(u.script_type)))
    return out


def select_coins_bnb(pool: Sequence[_Candidate], target: int, cost_of_change: int,
                     max_weight: int = MAX_STANDARD_TX_WEIGHT) -> list[_Candidate] | None:
    """Core's SelectCoinsBnB: the least-waste set whose effective value lies in
    [target, target + cost_of_change] (so no change output is needed), or None."""
    pool = sorted(pool, key=lambda c: (-c.effective_value, c.fee))
    available = sum(c.effective_value for c in pool)
    if not pool or available < target:
        return None
    curr_value = curr_waste = curr_weight = 0
    selection: list[int] = []
    best: list[int] = []
    best_waste = MAX_MONEY
    feerate_high = pool[0].fee > pool[0].long_term_fee
    index = 0
    for _ in range(_BNB_TOTAL_TRIES):
        backtrack = False
        if (curr_value + available < target or curr_value > target + cost_of_change
                or (curr_waste > best_waste and feerate_high)):
            backtrack = True
        elif curr_weight > max_weight:
            backtrack = True
        elif curr_value >= target:
            waste = curr_waste + curr_value - target
            if waste <= best_waste:
                best = list(selection)
                best_waste = waste
            backtrack = True
        if backtrack:
            if not selection:
                break
            index -= 1
            while index > selection[-1]:
                available += pool[index].effective_value
                index -= 1
            c = pool[index]
            curr_value -= c.effective_value
            curr_waste -= c.fee - c.long_term_fee
            curr_weight -= c.weight
            selection.pop()
        else:
            c = pool[index]
            available -= c.effective_value
            prev = pool[index - 1] if index > 0 else None
            if (not selection or index - 1 == selection[-1]
                    or c.effective_value != prev.effective_value or c.fee != prev.fee):
                selection.append(index)
                curr_value += c.effective_value
                curr_waste += c.fee - c.long_term_fee
                curr_weight += c.weight
        index += 1
    if not best:
        return None
    return [pool[i] for i in best]


def select_coins_largest_first(pool: Sequence[_Candidate], target: int,
                               target_with_change: int) -> list[_Candidate] | None:
    """Largest effective value first until `target_with_change` is reached (a viable
    change output), or, using every coin, at least `target` (no change). None if even
    all coins do not reach `target`."""
    chosen: list[_Candidate] = []
    total = 0
    for c in sorted(pool, key=lambda c: (-c.effective_value, c.fee)):
        chosen.append(c)
        total += c.effective_value
        if total >= target_with_change:
            return chosen
    return chosen if total >= target else None


@dataclass(frozen=True, slots=True)
class Draft:
    """An unsigned transaction and what it spends (`spent[i]` for input i)."""

    tx: Transaction
    spent: tuple[Utxo, ...]
    fee: int
    change_index: int | None
    vsize: int          # estimated, 72-byte signatures
    algorithm: str      # "bnb", "largest-first" or "preset"

    @property
    def feerate(self) -> FeeRate:
        return FeeRate.from_fee(self.fee, self.vsize)


def create_transaction(coin_tiers: Sequence[Sequence[Utxo]], recipients: Sequence[TxOut],
                       feerate: FeeRate, *, change_script: bytes, change_type: ScriptType,
                       preset: Sequence[Utxo] = (), lock_time: int = 0,
                       sequence: int = SEQUENCE_RBF, rng: random.Random | None = None,
                       long_term_feerate: FeeRate = LONG_TERM_FEERATE,
                       discard_feerate: FeeRate = DISCARD_FEERATE,
                       max_fee: int = DEFAULT_MAX_TX_FEE, immature: int = 0) -> Draft:
    """Fund `recipients` at `feerate` from `preset` (always spent) plus coins chosen from
    the tiers: the first tier alone if it suffices (confirmed coins), else the first
    two together (plus our unconfirmed change), and so on.

    Raises SpendError for no recipients, a non-positive or dust amount, a fee above
    `max_fee`; InsufficientFunds when even every coin does not pay amounts and fee.
    """
    if not recipients:
        raise SpendError("Transaction must have at least one recipient")
    for out in recipients:
        if out.value <= 0:
            raise SpendError("Transaction amounts must be positive")
        if out.value < dust_threshold(out.script_pubkey):
            raise SpendError("Transaction amount too small (below the dust threshold)")
    total_out = sum(o.value for o in recipients)
    if total_out > MAX_MONEY:
        raise SpendError("Amount out of range")
    rng = rng or random.SystemRandom()
    out_scripts = [o.script_pubkey for o in recipients]
    # Core's not_input_fees: everything but the inputs, with the segwit marker.
    not_input_vsize = (4 * (4 + 1 + _compact_size_len(len(recipients)) + 4
                            + sum(output_size(s) for s in out_scripts)) + 2 + 3) // 4
    change_fee = feerate.fee(output_size(change_script))
    change_spend_fee = discard_feerate.fee(input_vsize(change_type))
    cost_of_change = change_fee + change_spend_fee
    min_viable_change = max(change_spend_fee + 1, dust_threshold(change_script))
    preset_set = {(u.txid_bytes, u.vout) for u in preset}
    preset_eff = sum(u.value - feerate.fee(input_vsize(u.script_type)) for u in preset)
    extra = 0
    for _attempt in range(4):
        target = total_out + feerate.fee(not_input_vsize) + extra - preset_eff
        pool: list[_Candidate] = []
        chosen: list[_Candidate] | None = None
        algorithm = "preset"
        if target <= 0 and preset:
            chosen = []
        else:
            for tier in coin_tiers:
                pool += _candidates([u for u in tier if (u.txid_bytes, u.vout) not in preset_set],
                                    feerate, long_term_feerate)
                chosen = select_coins_bnb(pool, target, cost_of_change)
                algorithm = "bnb"
                if chosen is None:
                    chosen = select_coins_largest_first(pool, target,
                                                        target + change_fee + min_viable_change)
                    algorithm = "largest-first"
                if chosen is not None:
                    break
        if chosen is None:
            break
        draft = _assemble(list(preset) + [c.utxo for c in chosen], recipients, feerate,
                          change_script, min_viable_change, lock_time, sequence, rng, algorithm)
        if draft is None:
            extra += feerate.fee(10) + 1   # size rounding (e.g. >252 inputs): ask a bit more
            continue
        if draft.fee > max_fee:
            raise SpendError(f"Fee exceeds maximum configured by user (fee {_btc(draft.fee)} BTC "
                             f"> {_btc(max_fee)} BTC)")
        return draft
    spendable = sum(u.value for u in preset) + sum(
        u.value for tier in coin_tiers for u in tier if (u.txid_bytes, u.vout) not in preset_set)
    needed = total_out + feerate.fee(estimate_vsize([ScriptType.P2WPKH], out_scripts))
    raise InsufficientFunds(max(needed, total_out + 1), spendable, immature)


def _assemble(inputs: list[Utxo], recipients: Sequence[TxOut], feerate: FeeRate,
              change_script: bytes, min_viable_change: int, lock_time: int, sequence: int,
              rng: random.Random, algorithm: str) -> Draft | None:
    """Order inputs, add change if viable, fix the fee. None if the inputs fall short."""
    inputs = list(inputs)
    rng.shuffle(inputs)
    types = [u.script_type for u in inputs]
    total_in = sum(u.value for u in inputs)
    total_out = sum(o.value for o in recipients)
    scripts = [o.script_pubkey for o in recipients]
    vsize_plain = estimate_vsize(types, scripts)
    fee_plain = feerate.fee(vsize_plain)
    vsize_change = estimate_vsize(types, scripts + [change_script])
    change = total_in - total_out - feerate.fee(vsize_change)
    outputs = list(recipients)
    change_index = None
    if change >= min_viable_change:
        change_index = rng.randrange(len(outputs) + 1)
        outputs.insert(change_index, TxOut(change, change_script))
        fee, vsize = total_in - total_out - change, vsize_change
    else:
        fee, vsize = total_in - total_out, vsize_plain
        if fee < fee_plain:
            return None
    txins = [TxIn(u.outpoint, b"", sequence, ()) for u in inputs]
    tx = Transaction(2, txins, outputs, lock_time)
    return Draft(tx, tuple(inputs), fee, change_index, vsize, algorithm)


# --- signing ------------------------------------------------------------------------


def _push(data: bytes) -> bytes:
    if len(data) < 0x4C:
        return bytes([len(data)]) + data
    raise ValueError("push too large for a single-key script")


def sign_transaction(tx: Transaction, spent: Sequence[Utxo],
                     private_key: Callable[[bytes], bytes],
                     flags: int = STANDARD_SCRIPT_VERIFY_FLAGS) -> Transaction:
    """Sign every input of `tx` (spending `spent[i]`) with SIGHASH_ALL.

    `private_key(script_pubkey)` returns the 32-byte key of one of our scripts. Each
    signed input is verified against its spent output under `flags`; SigningError if
    one fails (nothing is returned then).
    """
    if len(spent) != len(tx.inputs):
        raise ValueError("need the spent output of every input")
    pre = PrecomputedTxData(tx)
    new_inputs = []
    for i, (txin, utxo) in enumerate(zip(tx.inputs, spent, strict=True)):
        priv = private_key(utxo.script_pubkey)
        pub = ecc.pubkey_from_privkey(priv, True)
        if utxo.script_type is ScriptType.P2PKH:
            digest = legacy_sighash(tx, i, utxo.script_pubkey, SIGHASH_ALL, pre)
            sig = ecc.sign(priv, digest) + bytes([SIGHASH_ALL])
            new_inputs.append(txin._replace(script_sig=_push(sig) + _push(pub), witness=()))
            continue
        script_code = p2pkh_script(hash160(pub))
        digest = segwit_v0_sighash(tx, i, script_code, utxo.value, SIGHASH_ALL, pre)
        sig = ecc.sign(priv, digest) + bytes([SIGHASH_ALL])
        script_sig = b""
        if utxo.script_type is ScriptType.P2SH_P2WPKH:
            script_sig = _push(b"\x00\x14" + hash160(pub))
        new_inputs.append(txin._replace(script_sig=script_sig, witness=(sig, pub)))
    signed = tx.replace(inputs=new_inputs)
    spent_outputs = [TxOut(u.value, u.script_pubkey) for u in spent]
    txdata = PrecomputedTxData(signed, spent_outputs)
    for i in range(len(signed.inputs)):
        try:
            verify_input(signed, i, spent_outputs, flags, txdata=txdata)
        except ScriptError as exc:
            raise SigningError(f"input {i} does not verify after signing: {exc.code}") from None
    return signed


# --- the wallet side ----------------------------------------------------------------


def blocks_to_maturity(coinbase: bool, height: int | None, tip_height: int | None) -> int:
    """Core's CWallet::GetTxBlocksToMaturity: 0 for a spendable coin; for a coinbase,
    max(0, COINBASE_MATURITY + 1 - depth). A coinbase not in the chain is never mature."""
    if not coinbase:
        return 0
    if height is None or tip_height is None:
        return COINBASE_MATURITY + 1
    depth = tip_height - height + 1
    return max(0, COINBASE_MATURITY + 1 - depth)


def _tip_height(wallet) -> int | None:
    best = wallet.best_block()
    return None if best is None else best[1]


def _is_from_me(wallet, txid_bytes: bytes, cache: dict) -> bool:
    """Every input of the (unconfirmed) wallet tx spends one of our coins (Core's
    'trusted' for our own change)."""
    if txid_bytes in cache:
        return cache[txid_bytes]
    rec = wallet.get_transaction(txid_bytes)
    ok = False
    if rec is not None:
        tx = rec.tx
        ok = not tx.is_coinbase() and all(
            wallet.coin(i.prevout.txid_bytes, i.prevout.index) is not None for i in tx.inputs)
    cache[txid_bytes] = ok
    return ok


def spendable_coins(wallet, exclude_txids: frozenset = frozenset()):
    """(confirmed mature coins, our own unconfirmed change, immature total sats).

    Coins created by a transaction in `exclude_txids` are left out (bumpfee must not
    spend the outputs of the transaction it replaces)."""
    tip = _tip_height(wallet)
    confirmed: list[Utxo] = []
    trusted: list[Utxo] = []
    immature = 0
    cache: dict = {}
    types: dict[bytes, ScriptType | None] = {}
    for c in wallet.coins():
        if c.txid_bytes in exclude_txids:
            continue
        st = types.get(c.script_pubkey, ...)
        if st is ...:
            rec = wallet.lookup_script(c.script_pubkey)
            st = types[c.script_pubkey] = None if rec is None else rec.script_type
        if st is None:
            continue
        if blocks_to_maturity(c.coinbase, c.height, tip):
            immature += c.value
            continue
        u = Utxo(c.txid_bytes, c.vout, c.value, c.script_pubkey, st, c.height, c.coinbase)
        if c.height is not None:
            confirmed.append(u)
        elif _is_from_me(wallet, c.txid_bytes, cache):
            trusted.append(u)
    return confirmed, trusted, immature


def resolve_feerate(rpc, feerate: FeeRate | None = None, conf_target: int = 6) -> FeeRate:
    """The fee rate to pay: the one given (SpendError below the 1 sat/vB floor), else
    the node's estimatesmartfee(conf_target) in BTC/kvB, never below the floor (the
    floor also when the node has no estimate or no such method)."""
    if feerate is not None:
        if feerate < MIN_FEERATE:
            raise SpendError(f"Fee rate ({feerate}) is lower than the minimum fee rate setting "
                             f"({MIN_FEERATE})")
        return feerate
    try:
        answer = rpc.call("estimatesmartfee", conf_target)
    except RPCError:
        return MIN_FEERATE
    rate = answer.get("feerate") if isinstance(answer, dict) else None
    if rate is None:
        return MIN_FEERATE
    return max(FeeRate.from_btc_per_kvb(rate), MIN_FEERATE)


def node_incremental_relay_feerate(rpc) -> FeeRate:
    """The node's incremental relay fee (getmempoolinfo "incrementalrelayfee", BTC/kvB),
    Core's DEFAULT_INCREMENTAL_RELAY_FEE (1 sat/vB) when the node does not say."""
    try:
        answer = rpc.call("getmempoolinfo")
    except RPCError:
        return INCREMENTAL_RELAY_FEERATE
    rate = answer.get("incrementalrelayfee") if isinstance(answer, dict) else None
    if rate is None:
        return INCREMENTAL_RELAY_FEERATE
    try:
        return FeeRate.from_btc_per_kvb(rate)
    except (InvalidOperation, SpendError):
        return INCREMENTAL_RELAY_FEERATE


def record_sent(wallet, tx: Transaction, spent: Sequence[Utxo]) -> None:
    """Record a transaction we broadcast: unconfirmed, its inputs spent, its outputs to
    our scripts (change) as coins, those scripts used."""
    with wallet.batch():
        wallet.add_transaction(tx)
        for u in spent:
            wallet.mark_spent(u.txid_bytes, u.vout, tx.txid_bytes)
        for vout, out in enumerate(tx.outputs):
            if wallet.is_mine(out.script_pubkey):
                wallet.add_coin(tx.txid_bytes, vout, out.value, out.script_pubkey, None, False)
                wallet.mark_used(out.script_pubkey)


@dataclass(frozen=True, slots=True)
class SendResult:
    txid: str
    fee: int
    tx: Transaction
    vsize: int
    feerate: FeeRate
    change_index: int | None


def _change(wallet, script_type: ScriptType = ScriptType.P2WPKH):
    """A fresh change script (peeked, not reserved: `record_sent` marks it used)."""
    addr = wallet.peek_address(script_type, 0, CHANGE)
    return addr.script_pubkey, script_type


def _key_getter(wallet):
    return wallet.private_key


def send(wallet, rpc, payments: Sequence[tuple[str | bytes, int]], feerate: FeeRate | None = None,
         *, rbf: bool = True, conf_target: int = 6, rng: random.Random | None = None,
         broadcast: bool = True) -> SendResult:
    """Pay `payments` ([(address or scriptPubKey, satoshis)]) from the wallet (which must be
    unlocked and synced): select, sign, broadcast with sendrawtransaction, record.

    Raises InvalidAddress (coin.crypto.address), SpendError / InsufficientFunds,
    WalletLocked, RPCError from the node (then nothing is recorded).
    """
    outputs = []
    seen = set()
    for dest, amount in payments:
        script = dest if isinstance(dest, bytes) else address_to_script(dest, wallet.params)
        if script in seen:
            raise SpendError(f"Invalid parameter, duplicated address: {dest}")
        seen.add(script)
        outputs.append(TxOut(int(amount), script))
    rate = resolve_feerate(rpc, feerate, conf_target)
    confirmed, trusted, immature = spendable_coins(wallet)
    change_script, change_type = _change(wallet)
    tip = _tip_height(wallet)
    draft = create_transaction(
        [confirmed, trusted], outputs, rate, change_script=change_script,
        change_type=change_type, lock_time=tip or 0,
        sequence=SEQUENCE_RBF if rbf else SEQUENCE_NONFINAL, rng=rng, immature=immature)
    signed = sign_transaction(draft.tx, draft.spent, _key_getter(wallet))
    if broadcast:
        rpc.call("sendrawtransaction", signed.to_hex())
    record_sent(wallet, signed, draft.spent)
    return SendResult(signed.txid, draft.fee, signed, draft.vsize, rate, draft.change_index)


@dataclass(frozen=True, slots=True)
class BumpResult:
    txid: str
    origfee: int
    fee: int
    feerate: FeeRate
    tx: Transaction
    errors: tuple[str, ...] = ()


def bump_fee(wallet, rpc, txid: str, feerate: FeeRate | None = None, *, conf_target: int = 6,
             rng: random.Random | None = None, broadcast: bool = True) -> BumpResult:
    """Replace unconfirmed wallet transaction `txid` by one paying a higher fee (Core's
    bumpfee): the same inputs (more only if they cannot pay), the same payments, the
    change reduced (or dropped when no longer viable), signalling RBF again.

    The increment is max(the node's incrementalrelayfee from getmempoolinfo, 1 sat/vB
    if the node does not say; the wallet's WALLET_INCREMENTAL_RELAY_FEE, 5 sat/vB).
    The new rate is by default max(estimate, old rate + 1 sat/kvB + the increment)
    (Core's EstimateFeeRate). An explicit `feerate` must pay at least the old fee + the
    increment over the replacement's size, else SpendError "Insufficient total fee X,
    must be at least Y (oldFee Z + incrementalFee W)" (Core's CheckFeeRate, in BTC).
    BIP-0125: the new fee must also exceed the old by the node's incremental relay fee
    over the new size once built. SpendError with Core's messages when the transaction
    cannot be bumped.
    """
    try:
        txid_bytes = bytes.fromhex(txid)[::-1]
    except ValueError:
        raise SpendError("txid must be hexadecimal") from None
    if len(txid_bytes) != 32:
        raise SpendError("txid must be of length 64")
    rec = wallet.get_transaction(txid_bytes)
    if rec is None:
        raise SpendError("Invalid or non-wallet transaction id")
    if rec.height is not None:
        raise SpendError("Transaction has been mined, or is conflicted with a mined transaction")
    old = rec.tx
    if not any(i.sequence <= SEQUENCE_RBF for i in old.inputs):
        raise SpendError("Transaction is not BIP 125 replaceable")
    for c in wallet.coins(include_spent=True):
        if c.txid_bytes == txid_bytes and c.spent_by is not None:
            raise SpendError("Transaction has descendants in the wallet")
    preset: list[Utxo] = []
    for txin in old.inputs:
        c = wallet.coin(txin.prevout.txid_bytes, txin.prevout.index)
        r = wallet.lookup_script(c.script_pubkey) if c is not None else None
        if c is None or r is None:
            raise SpendError("Transaction contains inputs that don't belong to this wallet")
        preset.append(Utxo(c.txid_bytes, c.vout, c.value, c.script_pubkey, r.script_type,
                           c.height, c.coinbase))
    old_fee = sum(u.value for u in preset) - sum(o.value for o in old.outputs)
    old_rate = FeeRate.from_fee(old_fee, old.vsize)
    recipients: list[TxOut] = []
    change_script, change_type = None, ScriptType.P2WPKH
    for out in old.outputs:
        r = wallet.lookup_script(out.script_pubkey)
        if r is not None and r.chain == CHANGE:
            change_script, change_type = out.script_pubkey, r.script_type
        else:
            recipients.append(out)
    if not recipients:
        raise SpendError("Transaction has no outputs other than change")
    if change_script is None:
        change_script, change_type = _change(wallet)
    node_incremental = node_incremental_relay_feerate(rpc)
    incremental = max(node_incremental, WALLET_INCREMENTAL_RELAY_FEERATE)
    if feerate is None:
        # Core's EstimateFeeRate: old rate (truncated, so + 1 sat/kvB) + the increment
        rate = max(resolve_feerate(rpc, None, conf_target), old_rate + FeeRate(1) + incremental)
    else:
        # Core's CheckFeeRate, over the size of the replacement as it stands (same
        # inputs and outputs, 72-byte signatures)
        max_size = estimate_vsize([u.script_type for u in preset],
                                  [o.script_pubkey for o in old.outputs])
        new_total = feerate.fee(max_size)
        min_total = old_fee + incremental.fee(max_size)
        if new_total < min_total:
            raise SpendError(f"Insufficient total fee {_btc(new_total)}, must be at least "
                             f"{_btc(min_total)} (oldFee {_btc(old_fee)} + incrementalFee "
                             f"{_btc(min_total - old_fee)})")
        rate = resolve_feerate(rpc, feerate, conf_target)
    confirmed, trusted, immature = spendable_coins(wallet, frozenset({txid_bytes}))
    tip = _tip_height(wallet)
    draft = create_transaction(
        [confirmed, trusted], recipients, rate, change_script=change_script,
        change_type=change_type, preset=preset, lock_time=tip or old.lock_time,
        sequence=SEQUENCE_RBF, rng=rng, immature=immature)
    required = old_fee + node_incremental.fee(draft.vsize)   # BIP-0125 rules 3 and 4
    if draft.fee < required:
        raise SpendError(f"Insufficient total fee {_btc(draft.fee)}, must be at least "
                         f"{_btc(required)} (oldFee {_btc(old_fee)} + incrementalFee "
                         f"{_btc(required - old_fee)})")
    signed = sign_transaction(draft.tx, draft.spent, _key_getter(wallet))
    if broadcast:
        rpc.call("sendrawtransaction", signed.to_hex())
    with wallet.batch():
        wallet.remove_transaction(txid_bytes)
        record_sent(wallet, signed, draft.spent)
    return BumpResult(signed.txid, old_fee, draft.fee, rate, signed)
