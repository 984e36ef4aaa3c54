"""Block and header validity: Core's CheckBlockHeader, CheckBlock, ContextualCheckBlockHeader
and ContextualCheckBlock (validation.cpp).

Reject reasons, by function (all `Rejection`, ban score 100 unless noted):
- `check_block_header`: high-hash (kind HEADER).
- `check_block`: high-hash, bad-txnmrklroot, bad-txns-duplicate (CVE-2012-2459),
  bad-blk-length, bad-cb-missing, bad-cb-multiple, every CheckTransaction reason
  (debug "Transaction check failed (tx hash …)"), bad-blk-sigops (legacy count).
- `contextual_check_block_header`: bad-diffbits, time-too-old (kind HEADER),
  time-too-new (kind TIME_FUTURE, ban score 0: may become valid later),
  bad-version(0x%08x) (kind HEADER; BIP-0034/0066/0065 minimum versions 2/3/4).
- `contextual_check_block`: bad-txns-nonfinal, bad-cb-height (BIP-0034),
  bad-witness-nonce-size, bad-witness-merkle-match, unexpected-witness, bad-blk-weight.

A block failing with a reason in `BLOCK_MUTATED_REASONS` may be a valid block whose
transactions or witnesses were changed in transit (the header commits to neither
witness nor, after mutation, to distinct transactions): Core does not mark such a
header invalid. `is_block_mutation(rejection)` tells the chain which case it has.
"""

from coin.consensus.constants import (
    MAX_BLOCK_SIGOPS_COST,
    MAX_BLOCK_WEIGHT,
    MAX_FUTURE_BLOCK_TIME,
    WITNESS_SCALE_FACTOR,
)
from coin.consensus.errors import Rejection, RejectKind
from coin.consensus.pow import check_proof_of_work, get_next_work_required
from coin.consensus.tx_check import check_transaction
from coin.consensus.tx_verify import is_final_tx
from coin.consensus.witness import check_witness_malleation, get_block_weight
from coin.script.scriptnum import encode_num
from coin.script.sigops import get_legacy_sigop_count

__all__ = [
    "BLOCK_MUTATED_REASONS",
    "is_block_mutation",
    "bip34_height_script",
    "check_block_header",
    "check_merkle_root",
    "check_block",
    "contextual_check_block_header",
    "contextual_check_block",
]

BLOCK_MUTATED_REASONS = frozenset({
    "bad-txnmrklroot",
    "bad-txns-duplicate",
    "bad-witness-nonce-size",
    "bad-witness-merkle-match",
    "unexpected-witness",
})


def is_block_mutation(rejection: Rejection) -> bool:
    """Whether `rejection` is Core's BLOCK_MUTATED: don't mark the header invalid for it."""
    return rejection.reason in BLOCK_MUTATED_REASONS


def bip34_height_script(height: int) -> bytes:
    """`CScript() << height`: the prefix BIP-0034 requires of the coinbase scriptSig.

    Core's CScript::push_int64: 0 is OP_0, 1..16 are OP_1..OP_16 (one byte), anything
    else a minimal push of the CScriptNum encoding (e.g. 17 -> 01 11, 500 -> 02 f4 01).
    """
    if height == 0:
        return b"\x00"
    if height == -1 or 1 <= height <= 16:
        return bytes((0x50 + height,))
    data = encode_num(height)
    return bytes((len(data),)) + data  # heights need at most 5 bytes: a direct push


def _signed32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def check_block_header(header, params, *, check_pow: bool = True) -> None:
    """Core's CheckBlockHeader: the hash meets the target in `bits` (high-hash)."""
    if check_pow and not check_proof_of_work(header.hash_bytes, header.bits, params):
        raise Rejection("high-hash", "proof of work failed", kind=RejectKind.HEADER)


def check_merkle_root(block) -> None:
    """Core's CheckMerkleRoot: bad-txnmrklroot on mismatch, bad-txns-duplicate if mutated."""
    root, mutated = block.compute_merkle_root()
    if root != block.header.merkle_root_bytes:
        raise Rejection("bad-txnmrklroot", "hashMerkleRoot mismatch")
    if mutated:
        raise Rejection("bad-txns-duplicate", "duplicate transaction")


_check_merkle_root = check_merkle_root  # check_block's keyword shadows the name


def check_block(block, params, *, check_pow: bool = True, check_merkle_root: bool = True) -> None:
    """Core's CheckBlock: everything about a block that needs no chain context.

    Raises, in Core's order: high-hash; bad-txnmrklroot, bad-txns-duplicate;
    bad-blk-length (no transactions, or count x4 or stripped size x4 over
    MAX_BLOCK_WEIGHT); bad-cb-missing; bad-cb-multiple; CheckTransaction's reasons
    ("Transaction check failed (tx hash …)"); bad-blk-sigops (legacy sigops x4 over
    MAX_BLOCK_SIGOPS_COST).
    """
    check_block_header(block.header, params, check_pow=check_pow)
    if check_merkle_root:
        _check_merkle_root(block)

    txs = block.txs
    if (not txs or len(txs) * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
            or block.base_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT):
        raise Rejection("bad-blk-length", "size limits failed")

    if not txs[0].is_coinbase():
        raise Rejection("bad-cb-missing", "first tx is not coinbase")
    for tx in txs[1:]:
        if tx.is_coinbase():
            raise Rejection("bad-cb-multiple", "more than one coinbase")

    for tx in txs:
        try:
            check_transaction(tx)
        except Rejection as exc:
            raise Rejection(exc.reason,
                            f"Transaction check failed (tx hash {tx.txid}) {exc.debug}") from None

    sigops = 0
    for tx in txs:
        sigops += get_legacy_sigop_count(tx)
    if sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST:
        raise Rejection("bad-blk-sigops", "out-of-bounds SigOpCount")


def contextual_check_block_header(header, prev_entry, params, now: int) -> None:
    """Core's ContextualCheckBlockHeader against the parent `prev_entry` at time `now`.

    Raises bad-diffbits ("incorrect proof of work"), time-too-old (time <= parent's
    median time past), time-too-new (more than MAX_FUTURE_BLOCK_TIME after `now`; kind
    TIME_FUTURE, ban score 0), bad-version(0x%08x) (version below 2, 3, 4 once BIP-0034,
    BIP-0066, BIP-0065 are active for this height).
    """
    height = prev_entry.height + 1
    if header.bits != get_next_work_required(prev_entry, header.time, params):
        raise Rejection("bad-diffbits", "incorrect proof of work", kind=RejectKind.HEADER)
    if header.time <= prev_entry.median_time_past():
        raise Rejection("time-too-old", "block's timestamp is too early", kind=RejectKind.HEADER)
    if header.time > now + MAX_FUTURE_BLOCK_TIME:
        raise Rejection("time-too-new", "block timestamp too far in the future",
                        kind=RejectKind.TIME_FUTURE, ban_score=0)
    version = _signed32(header.version)
    if ((version < 2 and height >= params.bip34_height)
            or (version < 3 and height >= params.bip66_height)
            or (version < 4 and height >= params.bip65_height)):
        shown = f"0x{version & 0xFFFFFFFF:08x}"
        raise Rejection(f"bad-version({shown})", f"rejected nVersion={shown} block",
                        kind=RejectKind.HEADER)


def contextual_check_block(block, prev_entry, params) -> None:
    """Core's ContextualCheckBlock: rules that depend on the block's height and parent.

    `prev_entry` is the parent's index entry (None only for a genesis block). Raises
    bad-txns-nonfinal (a transaction not final at this height and cut-off time: the
    parent's median time past once CSV/BIP-0113 is active, else the block's time),
    bad-cb-height (BIP-0034: coinbase scriptSig must start with `CScript() << height`),
    bad-witness-nonce-size / bad-witness-merkle-match / unexpected-witness (BIP-0141),
    bad-blk-weight (over MAX_BLOCK_WEIGHT).
    """
    height = 0 if prev_entry is None else prev_entry.height + 1

    if height >= params.csv_height and prev_entry is not None:
        lock_time_cutoff = prev_entry.median_time_past()
    else:
        lock_time_cutoff = block.header.time
    for tx in block.txs:
        if not is_final_tx(tx, height, lock_time_cutoff):
            raise Rejection("bad-txns-nonfinal", "non-final transaction")

    if height >= params.bip34_height:
        expect = bip34_height_script(height)
        if not block.txs[0].inputs[0].script_sig.startswith(expect):
            raise Rejection("bad-cb-height", "block height mismatch in coinbase")

    check_witness_malleation(block, height >= params.segwit_height)

    if get_block_weight(block) > MAX_BLOCK_WEIGHT:
        raise Rejection("bad-blk-weight", "ContextualCheckBlock : weight limit failed")
