"""Connecting and disconnecting a block against a UTXO view: Core's ConnectBlock and
DisconnectBlock without the storage.

`connect_block` applies every transaction of a block (already through `check_block` and
`contextual_check_block`) to `view`, checking in Core's order:

1. BIP-0030: no transaction may recreate outputs that are still unspent
   (bad-txns-BIP30), except in Core's two exempt mainnet blocks, and skipped once
   BIP-0034 is active on the chain whose block at `params.bip34_height` is
   `params.bip34_hash`, until height 1,983,702.
2. Per transaction, in block order: CheckTxInputs (bad-txns-inputs-missingorspent,
   bad-txns-premature-spend-of-coinbase, bad-txns-inputvalues-outofrange,
   bad-txns-in-belowout, bad-txns-fee-outofrange; debug "... in transaction <txid>"),
   the running fee total (bad-txns-accumulated-fee-outofrange), BIP-0068 sequence locks
   once CSV is active (bad-txns-nonfinal), the sigop cost running total
   (bad-blk-sigops); inputs are spent and outputs added (OP_RETURN and oversized
   scripts are never added, as Core's AddCoin).
3. The coinbase may claim at most subsidy + fees (bad-cb-amount, "coinbase pays too
   much (actual=%d vs limit=%d)").
4. Every input script, under `get_block_script_flags`: the first failure in block
   order raises `mandatory-script-verify-flag-failed (<Core's script error message>)`
   (Core v28's wording). Like Core with script-check threads, non-script failures and
   bad-cb-amount are reported before script failures. Scripts are evaluated on the
   calling thread after the loop above; the ECDSA verifications that P2WPKH and P2PKH
   spends only need to pass are deferred and run together, on `executor` when given
   (libsecp256k1 releases the GIL; evaluating scripts on threads would only fight over
   it). The outcome does not depend on the executor. Signatures verified here are not
   added to `sigcache`, as in Core's block validation; the cache is only read.

All failures are Rejection(kind CONSENSUS, ban score 100). On a Rejection `view` is left
half-updated: callers pass a throwaway child view and discard it.

`disconnect_block` undoes a connected block with its `BlockUndo`: it removes the coins
the block created and restores those it spent, returning False when the view did not
hold exactly what the block created (an "unclean" disconnect) and raising
InternalError when the undo data does not fit the block.
"""

import os

from coin.consensus.coins import Coin
from coin.consensus.constants import (
    BIP34_IMPLIES_BIP30_LIMIT,
    LOCKTIME_VERIFY_SEQUENCE,
    MAX_BLOCK_SIGOPS_COST,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    money_range,
)
from coin.consensus.errors import InternalError, Rejection
from coin.consensus.flags import get_block_script_flags
from coin.consensus.subsidy import get_block_subsidy
from coin.consensus.tx_verify import check_spent_coins, sequence_locks
from coin.consensus.undo import BlockUndo, TxUndo
from coin.crypto import ecc
from coin.primitives import OutPoint
from coin.script import PrecomputedTxData, ScriptError, verify_input
from coin.script.sigops import get_transaction_sigop_cost
from coin.script.standard import is_unspendable
from coin.serialize import hash_to_hex, hex_to_hash

__all__ = ["connect_block", "disconnect_block", "is_bip30_repeat", "SIGNATURE_CHUNK"]

# Core's IsBIP30Repeat: the two mainnet blocks whose coinbases duplicate earlier ones.
_BIP30_REPEATS = {
    91842: hex_to_hash("00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec"),
    91880: hex_to_hash("00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721"),
}
_BIP30_REPEAT_HASHES = frozenset(_BIP30_REPEATS.values())

# The fewest deferred signatures worth a share of their own on another thread: fewer
# than 2 * SIGNATURE_CHUNK are verified inline. A share is one batch (coin._ecdsa:
# the GIL released once for all of it), so shares on threads run in parallel; below
# this size the hand-off to a thread costs about what it saves (measured on 2 cores
# with bench chain.connect, 26 signatures a block: 24 and 8 within noise).
SIGNATURE_CHUNK = 24
_CORES = os.cpu_count() or 1


def is_bip30_repeat(height: int, block_hash_bytes: bytes) -> bool:
    """Core's IsBIP30Repeat: mainnet blocks 91842 and 91880, exempt from BIP-0030."""
    return _BIP30_REPEATS.get(height) == block_hash_bytes


def _enforce_bip30(block, entry, params) -> bool:
    height = entry.height
    enforce = not is_bip30_repeat(height, block.hash_bytes)
    if enforce and params.bip34_hash is not None:
        prev = entry.prev
        if prev is not None and params.bip34_height <= prev.height:
            ancestor = prev.get_ancestor(params.bip34_height)
            if ancestor is not None and hash_to_hex(ancestor.hash_bytes) == params.bip34_hash:
                enforce = False
    return enforce or height >= BIP34_IMPLIES_BIP30_LIMIT


def _first_bad_signature(jobs) -> int | None:
    """Index of the first (pubkey, der_sig, sighash) of `jobs` that does not verify
    (one batch: with libsecp256k1 it runs in C with the GIL released throughout)."""
    return ecc.first_bad_signature(jobs) if jobs else None


class _ScriptChecks:
    """A block's script checks, in block order (Core's CCheckQueueControl).

    `add_tx` evaluates a transaction's input scripts at once, on the calling thread; the
    ECDSA verifications of P2WPKH / P2PKH spends are deferred (verify_input's
    `deferred`). After the first failure later inputs are not evaluated: they cannot
    fail first. `result` verifies the deferred signatures, spread over `executor` and
    the calling thread (libsecp256k1 releases the GIL: they run in parallel, where
    script evaluation on threads would only queue for the GIL), and returns the first
    failure in block order as (check, ScriptError), or None.
    """

    __slots__ = ("flags", "sigcache", "executor", "checks", "jobs", "job_check", "futures",
                 "failure")

    def __init__(self, flags: int, sigcache, executor):
        self.flags = flags
        self.sigcache = sigcache
        self.executor = executor
        self.checks: list = []      # (tx, input index, spent outputs, txdata)
        self.jobs: list = []        # deferred (pubkey, der_sig, sighash)
        self.job_check: list = []   # jobs[j] belongs to checks[job_check[j]]
        self.futures: list = []
        self.failure = None

    def add_tx(self, tx, spent_outputs) -> None:
        if self.failure is not None:
            return
        txdata = PrecomputedTxData(tx, spent_outputs)
        flags = self.flags
        sigcache = self.sigcache
        checks = self.checks
        jobs = self.jobs
        for index in range(len(tx.inputs)):
            check = (tx, index, spent_outputs, txdata)
            checks.append(check)
            n = len(jobs)
            try:
                verify_input(tx, index, spent_outputs, flags, txdata=txdata, sigcache=sigcache,
                             deferred=jobs)
            except ScriptError as exc:
                del jobs[n:]
                self.failure = (check, exc)
                return
            if len(jobs) > n:
                self.job_check.extend([len(checks) - 1] * (len(jobs) - n))

    def _first_bad_job(self) -> int | None:
        jobs = self.jobs
        n = len(jobs)
        if self.executor is None or n < 2 * SIGNATURE_CHUNK:
            return _first_bad_signature(jobs)
        # A few shares per core. The executor's threads take them from the front; this
        # thread, rather than wait, takes them from the back, each one the threads have
        # not started (so a busy machine costs little more than verifying inline).
        size = max(SIGNATURE_CHUNK, -(-n // (2 * _CORES)))
        starts = list(range(0, n, size))
        last = starts.pop()
        self.futures = futures = [self.executor.submit(_first_bad_signature, jobs[i:i + size])
                                  for i in starts]
        bad = [(last, _first_bad_signature(jobs[last:]))]
        for i, future in zip(reversed(starts), reversed(futures), strict=True):
            if future.cancel():
                bad.append((i, _first_bad_signature(jobs[i:i + size])))
        for i, future in zip(starts, futures, strict=True):
            if not future.cancelled():
                bad.append((i, future.result()))
        return min((i + j for i, j in bad if j is not None), default=None)

    def result(self):
        try:
            bad = self._first_bad_job()
        finally:
            self.cancel()
        if bad is None:
            return self.failure
        check = self.checks[self.job_check[bad]]
        tx, index, spent_outputs, txdata = check
        try:
            verify_input(tx, index, spent_outputs, self.flags, txdata=txdata)
        except ScriptError as exc:
            return check, exc  # before any evaluation failure: evaluation stopped there
        # The same verification cannot pass now: only a broken ECDSA backend gets here.
        raise InternalError(f"signature of input {index} of {tx.txid} failed, then passed")

    def cancel(self) -> None:
        for future in self.futures:
            future.cancel()
        self.futures = []


def _may_have_sequence_locks(tx) -> bool:
    """False when BIP-0068 cannot lock `tx` (version < 2, or every input's sequence has
    the disable flag): SequenceLocks would find no lock and pass."""
    if (tx.version & 0xFFFFFFFF) < 2:
        return False
    for txin in tx.inputs:
        if not txin.sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            return True
    return False


def _script_rejection(failure) -> Rejection:
    (tx, index, _, _), exc = failure
    prevout = tx.inputs[index].prevout
    return Rejection(f"mandatory-script-verify-flag-failed ({exc.message})",
                     f"input {index} of {tx.txid} (wtxid {tx.wtxid}), "
                     f"spending {prevout.txid}:{prevout.index}")


def connect_block(block, entry, view, params, *, executor=None, sigcache=None,
                  check_scripts: bool = True) -> BlockUndo:
    """Core's ConnectBlock minus storage: apply `block` to `view`, return its undo data.

    `entry` is the index entry of `block` (height, `.prev` the tip it connects onto,
    ancestors for sequence locks). `executor` (a concurrent.futures.Executor) runs the
    block's deferred signature verifications in parallel; `sigcache`
    (coin.script.sigcache.SignatureCache) spares the signatures it holds. With
    `check_scripts=False` scripts are not verified (assumed valid). Raises Rejection
    with the reasons listed in the module docstring.
    """
    height = entry.height
    txs = block.txs
    # The outpoints of every transaction's outputs, for BIP-0030 and for adding them.
    outpoints = [[OutPoint(txid, o) for o in range(len(tx.outputs))]
                 for tx, txid in ((tx, tx.txid_bytes) for tx in txs)]
    if _enforce_bip30(block, entry, params):
        have_coin = view.have_coin
        for ops in outpoints:
            for op in ops:
                if have_coin(op):
                    raise Rejection("bad-txns-BIP30", "tried to overwrite transaction")

    lock_time_flags = LOCKTIME_VERIFY_SEQUENCE if height >= params.csv_height else 0
    flags = get_block_script_flags(height, block.hash_bytes, params)

    scripts = _ScriptChecks(flags, sigcache, executor) if check_scripts else None

    spend_coin = view.spend_coin
    add_coin = view.add_coin
    undo_txs = []
    fees = 0
    sigop_cost = 0
    try:
        for tx, ops in zip(txs, outpoints, strict=True):
            is_coinbase = tx.is_coinbase()
            if is_coinbase:
                spent_outputs = []
            else:
                spent = []
                for txin in tx.inputs:
                    coin = spend_coin(txin.prevout)
                    if coin is None:
                        raise Rejection("bad-txns-inputs-missingorspent",
                                        f"CheckTxInputs: inputs missing/spent in transaction {tx.txid}")
                    spent.append(coin)
                try:
                    fee = check_spent_coins(tx, spent, height)
                except Rejection as exc:
                    raise Rejection(exc.reason, f"{exc.debug} in transaction {tx.txid}") from None
                fees += fee
                if not money_range(fees):
                    raise Rejection("bad-txns-accumulated-fee-outofrange",
                                    "accumulated fee in the block out of range")
                if lock_time_flags and _may_have_sequence_locks(tx) and not sequence_locks(
                        tx, lock_time_flags, [coin.height for coin in spent], entry):
                    raise Rejection("bad-txns-nonfinal",
                                    f"contains a non-BIP68-final transaction {tx.txid}")
                spent_outputs = [coin.output for coin in spent]
                undo_txs.append(TxUndo(tuple(spent)))

            sigop_cost += get_transaction_sigop_cost(tx, spent_outputs, flags)
            if sigop_cost > MAX_BLOCK_SIGOPS_COST:
                raise Rejection("bad-blk-sigops", "too many sigops")

            if scripts is not None and not is_coinbase:
                scripts.add_tx(tx, spent_outputs)

            for op, txout in zip(ops, tx.outputs, strict=True):
                if not is_unspendable(txout.script_pubkey):
                    add_coin(op, Coin(txout, height, is_coinbase), is_coinbase)

        block_reward = fees + get_block_subsidy(height, params)
        value_out = sum(txout.value for txout in txs[0].outputs)
        if value_out > block_reward:
            raise Rejection("bad-cb-amount",
                            f"coinbase pays too much (actual={value_out} vs limit={block_reward})")

        if scripts is not None:
            failure = scripts.result()
            if failure is not None:
                raise _script_rejection(failure)
    finally:
        if scripts is not None:
            scripts.cancel()
    return BlockUndo(tuple(undo_txs))


def disconnect_block(block, undo: BlockUndo, view, *, height: int | None = None) -> bool:
    """Core's DisconnectBlock: undo `block` in `view` with its `undo` record.

    Removes every spendable output the block created and restores every coin it spent
    (transactions in reverse order, inputs in reverse order). Returns False for an
    unclean disconnect: a created output missing or different (value, script, coinbase
    flag, and the height when `height` is given), or a restored coin overwriting an
    unspent one. The coinbases of Core's two BIP-0030 exempt blocks are not held
    against cleanliness. Raises InternalError if the undo data does not fit the block.
    """
    if len(undo.txs) + 1 != len(block.txs):
        raise InternalError("DisconnectBlock(): block and undo data inconsistent")
    clean = True
    bip30_repeat = block.hash_bytes in _BIP30_REPEAT_HASHES
    for i in range(len(block.txs) - 1, -1, -1):
        tx = block.txs[i]
        txid = tx.txid_bytes
        is_coinbase = i == 0
        for o, txout in enumerate(tx.outputs):
            if is_unspendable(txout.script_pubkey):
                continue
            coin = view.spend_coin(OutPoint(txid, o))
            if (coin is None or coin.output != txout or coin.is_coinbase != is_coinbase
                    or (height is not None and coin.height != height)):
                if not (is_coinbase and bip30_repeat):
                    clean = False
        if i > 0:
            txundo = undo.txs[i - 1]
            if len(txundo.spent) != len(tx.inputs):
                raise InternalError("DisconnectBlock(): transaction and undo data inconsistent")
            for j in range(len(tx.inputs) - 1, -1, -1):
                prevout = tx.inputs[j].prevout
                coin = txundo.spent[j]
                if coin.height == 0:
                    raise InternalError("DisconnectBlock(): undo data lacks coin metadata")
                overwrite = view.have_coin(prevout)
                if overwrite:
                    clean = False
                view.add_coin(prevout, coin, overwrite)
    return clean
