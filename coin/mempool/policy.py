"""Relay policy: what a valid transaction must also be to enter the mempool (Core's policy/).

Kept apart from consensus (consensus never imports this module). Bitcoin Core v28's
defaults throughout:

- `FeeRate`: Core's CFeeRate, satoshis per 1000 virtual bytes. `FeeRate(fee, vsize)`
  truncates like Core's constructor; `get_fee(vsize)` rounds UP (Core >= v23) and never
  answers 0 for a positive rate and a positive size; `to_string()` prints Core's
  "0.00001000 BTC/kvB".
- `get_dust_threshold` / `is_dust` (GetDustThreshold with -dustrelayfee 3000 sat/kvB:
  P2PKH 546, P2WPKH 294; OP_RETURN and oversized scripts are never dust).
- `is_standard_script` (IsStandard on an output script) and `is_standard_tx`
  (IsStandardTx) raising `version`, `tx-size`, `scriptsig-size`,
  `scriptsig-not-pushonly`, `scriptpubkey`, `bare-multisig`, `dust`, `multi-op-return`;
  then `check_tx_size_small` (`tx-size-small`, non-witness size < 65).
- `are_inputs_standard` (AreInputsStandard: `bad-txns-nonstandard-inputs`),
  `is_witness_standard` (IsWitnessStandard: `bad-witness-nonstandard`); both return
  booleans, the mempool raises the reason.
- `virtual_size(weight, sigop_cost, bytes_per_sigop)`: GetVirtualTransactionSize with
  the sigop adjustment (-bytespersigop 20), the size the mempool charges fees on.
- `Policy`: the relay settings in one frozen object (minrelaytxfee, incrementalrelayfee,
  dustrelayfee, datacarrier, permitbaremultisig, bytespersigop, full RBF, ...).

An oversized OP_RETURN output fails as `scriptpubkey`, as in Core v28 (the separate
`datacarrier` reason is Core v30's, where several OP_RETURN outputs share one budget).

Errors: the `check_*` / `is_standard_tx` functions raise
coin.consensus.errors.Rejection(kind=POLICY, ban_score=0); predicates return booleans.
"""

from dataclasses import dataclass

from coin.consensus.constants import COIN, MAX_BLOCK_SIGOPS_COST, WITNESS_SCALE_FACTOR
from coin.consensus.errors import Rejection, RejectKind
from coin.consensus.tx_verify import format_money
from coin.script.errors import ScriptError
from coin.script.interpreter import NO_CHECKER, eval_script, is_push_only, witness_program
from coin.script.sighash import SIGVERSION_BASE
from coin.script.sigops import count_sigops
from coin.script.standard import (
    TX_MULTISIG,
    TX_NONSTANDARD,
    TX_NULL_DATA,
    TX_SCRIPTHASH,
    TX_WITNESS_UNKNOWN,
    classify,
    is_p2sh,
    is_pay_to_anchor,
    is_unspendable,
)

__all__ = [
    "MAX_STANDARD_TX_WEIGHT",
    "MIN_STANDARD_TX_NONWITNESS_SIZE",
    "MAX_P2SH_SIGOPS",
    "MAX_STANDARD_TX_SIGOPS_COST",
    "MAX_STANDARD_SCRIPTSIG_SIZE",
    "MAX_STANDARD_P2WSH_STACK_ITEMS",
    "MAX_STANDARD_P2WSH_STACK_ITEM_SIZE",
    "MAX_STANDARD_P2WSH_SCRIPT_SIZE",
    "MAX_OP_RETURN_RELAY",
    "TX_MIN_STANDARD_VERSION",
    "TX_MAX_STANDARD_VERSION",
    "DEFAULT_MIN_RELAY_TX_FEE",
    "DEFAULT_INCREMENTAL_RELAY_FEE",
    "DUST_RELAY_TX_FEE",
    "DEFAULT_BYTES_PER_SIGOP",
    "DEFAULT_BLOCK_MIN_TX_FEE",
    "MAX_BIP125_RBF_SEQUENCE",
    "FeeRate",
    "Policy",
    "format_money",
    "virtual_size",
    "get_dust_threshold",
    "is_dust",
    "is_standard_script",
    "is_standard_tx",
    "check_tx_size_small",
    "are_inputs_standard",
    "is_witness_standard",
    "signals_opt_in_rbf",
]

# policy/policy.h (v28)
MAX_STANDARD_TX_WEIGHT = 400_000
MIN_STANDARD_TX_NONWITNESS_SIZE = 65
MAX_P2SH_SIGOPS = 15
MAX_STANDARD_TX_SIGOPS_COST = MAX_BLOCK_SIGOPS_COST // 5
MAX_STANDARD_SCRIPTSIG_SIZE = 1650
MAX_STANDARD_P2WSH_STACK_ITEMS = 100
MAX_STANDARD_P2WSH_STACK_ITEM_SIZE = 80
MAX_STANDARD_P2WSH_SCRIPT_SIZE = 3600
MAX_OP_RETURN_RELAY = 83            # -datacarriersize: the whole OP_RETURN script
TX_MIN_STANDARD_VERSION = 1
TX_MAX_STANDARD_VERSION = 3         # TRUC (version 3) is standard since v28
DEFAULT_MIN_RELAY_TX_FEE = 1000     # sat/kvB
DEFAULT_INCREMENTAL_RELAY_FEE = 1000
DUST_RELAY_TX_FEE = 3000
DEFAULT_BYTES_PER_SIGOP = 20
DEFAULT_BLOCK_MIN_TX_FEE = 1000
MAX_BIP125_RBF_SEQUENCE = 0xFFFFFFFD


@dataclass(frozen=True, slots=True, order=True)
class FeeRate:
    """Core's CFeeRate: `per_kvb` satoshis per 1000 virtual bytes (ordered by rate)."""

    per_kvb: int

    @classmethod
    def from_fee(cls, fee: int, vsize: int) -> "FeeRate":
        """CFeeRate(nFeePaid, num_bytes): fee * 1000 / size, truncated toward zero."""
        if vsize <= 0:
            return cls(0)
        q = abs(fee) * 1000 // vsize
        return cls(q if fee >= 0 else -q)

    def get_fee(self, vsize: int) -> int:
        """CFeeRate::GetFee: ceil(rate * size / 1000); +-1 rather than 0 for a nonzero rate."""
        rate = self.per_kvb
        fee = -((-rate * vsize) // 1000)
        if fee == 0 and vsize != 0:
            if rate > 0:
                fee = 1
            elif rate < 0:
                fee = -1
        return fee

    def to_string(self) -> str:
        """CFeeRate::ToString(): "0.00001000 BTC/kvB"."""
        q, r = divmod(abs(self.per_kvb), COIN)
        return f"{'-' if self.per_kvb < 0 else ''}{q}.{r:08d} BTC/kvB"

    def __str__(self) -> str:
        return self.to_string()


@dataclass(frozen=True, slots=True)
class Policy:
    """The relay settings (Core v28 defaults; names as the -options that set them).

    Rates are sat/kvB. `max_datacarrier_bytes` None means -datacarrier=0 (no OP_RETURN
    output is standard). `require_standard` False is -acceptnonstdtxn (test networks).
    """

    min_relay_fee: int = DEFAULT_MIN_RELAY_TX_FEE
    incremental_relay_fee: int = DEFAULT_INCREMENTAL_RELAY_FEE
    dust_relay_fee: int = DUST_RELAY_TX_FEE
    max_datacarrier_bytes: int | None = MAX_OP_RETURN_RELAY
    permit_bare_multisig: bool = True
    bytes_per_sigop: int = DEFAULT_BYTES_PER_SIGOP
    full_rbf: bool = True
    require_standard: bool = True

    @property
    def min_relay_feerate(self) -> FeeRate:
        return FeeRate(self.min_relay_fee)

    @property
    def incremental_relay_feerate(self) -> FeeRate:
        return FeeRate(self.incremental_relay_fee)

    @property
    def dust_relay_feerate(self) -> FeeRate:
        return FeeRate(self.dust_relay_fee)


def virtual_size(weight: int, sigop_cost: int = 0,
                 bytes_per_sigop: int = DEFAULT_BYTES_PER_SIGOP) -> int:
    """Core's GetVirtualTransactionSize: ceil(max(weight, sigops * bytes_per_sigop) / 4)."""
    w = max(weight, sigop_cost * bytes_per_sigop)
    return (w + WITNESS_SCALE_FACTOR - 1) // WITNESS_SCALE_FACTOR


def _compact_size_len(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5 if n <= 0xFFFFFFFF else 9


def get_dust_threshold(txout, dust_relay_fee: FeeRate = FeeRate(DUST_RELAY_TX_FEE)) -> int:
    """Core's GetDustThreshold: the fee to spend the output, at the dust relay fee rate.

    The output's serialized size plus an input spending it: 32+4+1+107+4 = 148 bytes,
    or for a witness program 32+4+1+(107/4)+4 = 67 virtual bytes. 0 for unspendable
    outputs (OP_RETURN, oversized scripts).
    """
    spk = txout.script_pubkey
    if is_unspendable(spk):
        return 0
    size = 8 + _compact_size_len(len(spk)) + len(spk)
    if witness_program(spk) is not None:
        size += 32 + 4 + 1 + (107 // WITNESS_SCALE_FACTOR) + 4
    else:
        size += 32 + 4 + 1 + 107 + 4
    return dust_relay_fee.get_fee(size)


def is_dust(txout, dust_relay_fee: FeeRate = FeeRate(DUST_RELAY_TX_FEE)) -> bool:
    """Core's IsDust: value below the dust threshold."""
    return txout.value < get_dust_threshold(txout, dust_relay_fee)


def is_standard_script(script_pubkey: bytes, max_datacarrier_bytes: int | None = MAX_OP_RETURN_RELAY
                       ) -> tuple[bool, str]:
    """Core's IsStandard(scriptPubKey): (standard?, template type).

    Non-standard templates fail; bare multisig must be 1..3 keys with 1 <= m <= n; an
    OP_RETURN output must fit `max_datacarrier_bytes` (the whole script; None: refused).
    """
    kind, solutions = classify(script_pubkey)
    if kind == TX_NONSTANDARD:
        return False, kind
    if kind == TX_MULTISIG:
        m = solutions[0][0]
        n = solutions[-1][0]
        if n < 1 or n > 3 or m < 1 or m > n:
            return False, kind
    elif kind == TX_NULL_DATA:
        if max_datacarrier_bytes is None or len(script_pubkey) > max_datacarrier_bytes:
            return False, kind
    return True, kind


def _policy_reject(reason: str, debug: str = "") -> Rejection:
    return Rejection(reason, debug, kind=RejectKind.POLICY, ban_score=0)


def is_standard_tx(tx, policy: Policy = Policy()) -> None:
    """Core's IsStandardTx (v28). Raises Rejection(kind POLICY) with the first reason:

    `version` (outside 1..3), `tx-size` (weight > 400000), `scriptsig-size` (> 1650
    bytes), `scriptsig-not-pushonly`, `scriptpubkey` (non-standard output script,
    oversized OP_RETURN included), `bare-multisig` (if not permitted), `dust`,
    `multi-op-return` (more than one OP_RETURN output).
    """
    if not TX_MIN_STANDARD_VERSION <= tx.version <= TX_MAX_STANDARD_VERSION:
        raise _policy_reject("version")
    if tx.weight > MAX_STANDARD_TX_WEIGHT:
        raise _policy_reject("tx-size")
    for txin in tx.inputs:
        if len(txin.script_sig) > MAX_STANDARD_SCRIPTSIG_SIZE:
            raise _policy_reject("scriptsig-size")
        if not is_push_only(txin.script_sig):
            raise _policy_reject("scriptsig-not-pushonly")
    data_out = 0
    dust_fee = policy.dust_relay_feerate
    for txout in tx.outputs:
        ok, kind = is_standard_script(txout.script_pubkey, policy.max_datacarrier_bytes)
        if not ok:
            raise _policy_reject("scriptpubkey")
        if kind == TX_NULL_DATA:
            data_out += 1
        elif kind == TX_MULTISIG and not policy.permit_bare_multisig:
            raise _policy_reject("bare-multisig")
        elif is_dust(txout, dust_fee):
            raise _policy_reject("dust")
    if data_out > 1:
        raise _policy_reject("multi-op-return")


def check_tx_size_small(tx) -> None:
    """`tx-size-small`: the non-witness serialization is under 65 bytes (CVE-2017-12842)."""
    if tx.base_size < MIN_STANDARD_TX_NONWITNESS_SIZE:
        raise _policy_reject("tx-size-small")


def _redeem_script(script_sig: bytes) -> bytes | None:
    """The last element of the scriptSig evaluated with no flags, or None (Core's casual
    extraction in AreInputsStandard / IsWitnessStandard)."""
    stack: list = []
    try:
        eval_script(stack, script_sig, 0, NO_CHECKER, SIGVERSION_BASE)
    except ScriptError:
        return None
    if not stack:
        return None
    return bytes(stack[-1])


def are_inputs_standard(tx, spent_outputs) -> bool:
    """Core's AreInputsStandard: every spent output has a known, non-witness-unknown
    template, and every P2SH redeem script has at most 15 sigops (accurate count)."""
    if tx.is_coinbase():
        return True
    for txin, prev in zip(tx.inputs, spent_outputs, strict=True):
        kind, _ = classify(prev.script_pubkey)
        if kind in (TX_NONSTANDARD, TX_WITNESS_UNKNOWN):
            return False
        if kind == TX_SCRIPTHASH:
            redeem = _redeem_script(txin.script_sig)
            if redeem is None:
                return False
            if count_sigops(redeem, True) > MAX_P2SH_SIGOPS:
                return False
    return True


def is_witness_standard(tx, spent_outputs) -> bool:
    """Core's IsWitnessStandard: witness data only on witness-program spends (native or
    P2SH-wrapped, not pay-to-anchor); P2WSH within 3600-byte script, 100 stack items of
    at most 80 bytes; Taproot spends without an annex and with 80-byte tapscript items."""
    if tx.is_coinbase():
        return True
    for txin, prev in zip(tx.inputs, spent_outputs, strict=True):
        witness = txin.witness
        if not witness:
            continue
        script = prev.script_pubkey
        if is_pay_to_anchor(script):
            return False
        p2sh = False
        if is_p2sh(script):
            redeem = _redeem_script(txin.script_sig)
            if redeem is None:
                return False
            script = redeem
            p2sh = True
        wp = witness_program(script)
        if wp is None:
            return False
        version, program = wp
        if version == 0 and len(program) == 32:
            if len(witness[-1]) > MAX_STANDARD_P2WSH_SCRIPT_SIZE:
                return False
            if len(witness) - 1 > MAX_STANDARD_P2WSH_STACK_ITEMS:
                return False
            if any(len(item) > MAX_STANDARD_P2WSH_STACK_ITEM_SIZE for item in witness[:-1]):
                return False
        if version == 1 and len(program) == 32 and not p2sh:
            stack = list(witness)
            if len(stack) >= 2 and stack[-1] and stack[-1][0] == 0x50:
                return False  # annex
            if len(stack) >= 2:
                control = stack.pop()
                stack.pop()
                if not control:
                    return False
                if control[0] & 0xFE == 0xC0 and any(len(item) > 80 for item in stack):
                    return False
            elif len(stack) != 1:
                return False
    return True


def signals_opt_in_rbf(tx) -> bool:
    """BIP-0125 signalling: some input has nSequence <= 0xfffffffd."""
    return any(txin.sequence <= MAX_BIP125_RBF_SEQUENCE for txin in tx.inputs)
