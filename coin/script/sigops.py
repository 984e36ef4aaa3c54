"""Signature-operation counting: Core's GetSigOpCount, GetLegacySigOpCount,
GetP2SHSigOpCount, CountWitnessSigOps and GetTransactionSigOpCost.

Legacy counting is inaccurate by design (consensus): CHECKMULTISIG counts 20 unless
`accurate` and preceded by OP_1..OP_16. P2SH redeem scripts and witness scripts are
counted accurately. The block limit is on the cost: legacy and P2SH sigops weigh
WITNESS_SCALE_FACTOR (4) each, witness sigops 1.

`spent_outputs` is the list of TxOut spent by each input, in input order. Parsing
stops silently at a truncated push, as in Core; nothing here raises on script data.

Speed: standard output templates are counted by their shape and scripts without a
0xac-0xaf byte are 0 without parsing; legacy counts are memoised by txid (bounded), so
CheckBlock, ConnectBlock and the mempool count a transaction once.
"""

import re

from coin.script.flags import Flags
from coin.script.interpreter import is_push_only, witness_program
from coin.script.opcodes import MAX_PUBKEYS_PER_MULTISIG

__all__ = [
    "WITNESS_SCALE_FACTOR",
    "count_sigops",
    "count_p2sh_sigops",
    "get_legacy_sigop_count",
    "get_p2sh_sigop_count",
    "count_witness_sigops",
    "get_transaction_sigop_cost",
]

WITNESS_SCALE_FACTOR = 4

_P2SH = int(Flags.P2SH)
_WITNESS = int(Flags.WITNESS)


def _ops(script: bytes):
    """(opcode, data) pairs up to the end or the first truncated push (Core's GetOp loop)."""
    pos = 0
    end = len(script)
    while pos < end:
        op = script[pos]
        pos += 1
        if op > 0x4E:
            yield op, None
            continue
        if op < 0x4C:
            size = op
        elif op == 0x4C:
            if pos + 1 > end:
                return
            size = script[pos]
            pos += 1
        elif op == 0x4D:
            if pos + 2 > end:
                return
            size = script[pos] | (script[pos + 1] << 8)
            pos += 2
        else:
            if pos + 4 > end:
                return
            size = int.from_bytes(script[pos:pos + 4], "little")
            pos += 4
        if end - pos < size:
            return
        yield op, script[pos:pos + size]
        pos += size


def _last_push(script_sig: bytes) -> bytes:
    """The data of the last operation (empty for OP_n), as Core's GetOp loop leaves it."""
    data = b""
    for _, d in _ops(script_sig):
        data = d if d is not None else b""
    return data


_SIGOP_BYTE = re.compile(rb"[\xac-\xaf]")


def _template_sigops(script: bytes) -> int:
    """The count of a standard output template (P2WPKH, P2SH, P2WSH, P2TR: 0; P2PKH: 1),
    the same in both modes; -1 for any other script."""
    n = len(script)
    if n == 22:
        if script[0] == 0 and script[1] == 0x14:
            return 0
    elif n == 25:
        if script[0] == 0x76 and script[1] == 0xA9 and script[2] == 0x14 and script[23] == 0x88 \
                and script[24] == 0xAC:
            return 1
    elif n == 23:
        if script[0] == 0xA9 and script[1] == 0x14 and script[22] == 0x87:
            return 0
    elif n == 34:
        if (script[0] == 0 or script[0] == 0x51) and script[1] == 0x20:
            return 0
    return -1


def count_sigops(script: bytes, accurate: bool) -> int:
    """Core's CScript::GetSigOpCount(fAccurate)."""
    n = _template_sigops(script)
    if n >= 0:
        return n
    if _SIGOP_BYTE.search(script) is None:
        return 0  # no byte of the script, so no opcode, is a signature operation
    n = 0
    last = 0xFF
    pos = 0
    end = len(script)
    while pos < end:
        op = script[pos]
        pos += 1
        if op <= 0x4E:
            if op < 0x4C:
                size = op
            elif op == 0x4C:
                if pos + 1 > end:
                    break
                size = script[pos]
                pos += 1
            elif op == 0x4D:
                if pos + 2 > end:
                    break
                size = script[pos] | (script[pos + 1] << 8)
                pos += 2
            else:
                if pos + 4 > end:
                    break
                size = int.from_bytes(script[pos:pos + 4], "little")
                pos += 4
            if end - pos < size:
                break
            pos += size
        elif op == 0xAC or op == 0xAD:
            n += 1
        elif op == 0xAE or op == 0xAF:
            if accurate and 0x51 <= last <= 0x60:
                n += last - 0x50
            else:
                n += MAX_PUBKEYS_PER_MULTISIG
        last = op
    return n


def count_p2sh_sigops(script_pubkey: bytes, script_sig: bytes) -> int:
    """Core's CScript::GetSigOpCount(scriptSig): accurate count of the redeem script.

    For a non-P2SH `script_pubkey`, its own accurate count. 0 if the scriptSig is not
    push-only (or is truncated).
    """
    if not (len(script_pubkey) == 23 and script_pubkey[0] == 0xA9 and script_pubkey[1] == 0x14
            and script_pubkey[22] == 0x87):
        return count_sigops(script_pubkey, True)
    if not is_push_only(script_sig):
        return 0  # a non-push operation, or a truncated push
    return count_sigops(_last_push(script_sig), True)


# txid -> legacy count. The count reads only scriptSigs and scriptPubKeys, which the
# txid commits to, so a block's transactions are counted once although both CheckBlock
# and ConnectBlock ask (and once more for a transaction the mempool has counted).
_LEGACY_MEMO: dict[bytes, int] = {}
_LEGACY_MEMO_MAX = 1 << 15


def get_legacy_sigop_count(tx) -> int:
    """Core's GetLegacySigOpCount: inaccurate count over all scriptSigs and scriptPubKeys."""
    txid = tx.txid_bytes
    n = _LEGACY_MEMO.get(txid)
    if n is None:
        n = 0
        for txin in tx.inputs:
            script = txin.script_sig
            if script:
                n += count_sigops(script, False)
        for txout in tx.outputs:
            n += count_sigops(txout.script_pubkey, False)
        if len(_LEGACY_MEMO) >= _LEGACY_MEMO_MAX:
            _LEGACY_MEMO.clear()
        _LEGACY_MEMO[txid] = n
    return n


def get_p2sh_sigop_count(tx, spent_outputs) -> int:
    """Core's GetP2SHSigOpCount: redeem-script sigops of the inputs spending P2SH outputs."""
    if tx.is_coinbase():
        return 0
    n = 0
    for txin, spent in zip(tx.inputs, spent_outputs, strict=True):
        spk = spent.script_pubkey
        if len(spk) == 23 and spk[0] == 0xA9 and spk[1] == 0x14 and spk[22] == 0x87:
            n += count_p2sh_sigops(spk, txin.script_sig)
    return n


def _witness_sigops(version: int, program: bytes, witness) -> int:
    if version == 0:
        if len(program) == 20:
            return 1
        if len(program) == 32 and witness:
            return count_sigops(witness[-1], True)
    return 0


def count_witness_sigops(script_sig: bytes, script_pubkey: bytes, witness, flags: int) -> int:
    """Core's CountWitnessSigOps: sigops of a native or P2SH-nested witness program."""
    if not int(flags) & _WITNESS:
        return 0
    wp = witness_program(script_pubkey)
    if wp is not None:
        return _witness_sigops(wp[0], wp[1], witness)
    if (len(script_pubkey) == 23 and script_pubkey[0] == 0xA9 and script_pubkey[1] == 0x14
            and script_pubkey[22] == 0x87 and is_push_only(script_sig)):
        wp = witness_program(_last_push(script_sig))
        if wp is not None:
            return _witness_sigops(wp[0], wp[1], witness)
    return 0


def get_transaction_sigop_cost(tx, spent_outputs, flags: int) -> int:
    """Core's GetTransactionSigOpCost: legacy*4 + (P2SH flag) p2sh*4 + witness sigops."""
    cost = get_legacy_sigop_count(tx) * WITNESS_SCALE_FACTOR
    if tx.is_coinbase():
        return cost
    flags = int(flags)
    p2sh = flags & _P2SH
    witness = flags & _WITNESS
    for txin, spent in zip(tx.inputs, spent_outputs, strict=True):
        spk = spent.script_pubkey
        n = len(spk)
        if n == 22 and spk[0] == 0 and spk[1] == 0x14:
            # P2WPKH: one witness sigop (if the witness is empty or wrong the script
            # fails; the count is still 1, as in Core)
            if witness:
                cost += 1
            continue
        if n == 23 and spk[0] == 0xA9 and spk[1] == 0x14 and spk[22] == 0x87 and p2sh:
            cost += count_p2sh_sigops(spk, txin.script_sig) * WITNESS_SCALE_FACTOR
        if witness:
            cost += count_witness_sigops(txin.script_sig, spk, txin.witness, flags)
    return cost
