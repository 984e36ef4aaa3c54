"""Signature hashes: legacy (Core's SignatureHash for SigVersion::BASE) and BIP-0143 (SegWit v0).

`legacy_sighash` serializes the transaction as Core's CTransactionSignatureSerializer
does: the signed input carries the scriptCode with its OP_CODESEPARATORs removed, the
others an empty script; SIGHASH_NONE / SIGHASH_SINGLE zero the other inputs' sequences
and drop (or blank) outputs; SIGHASH_ANYONECANPAY keeps only the signed input; and the
SIGHASH_SINGLE bug returns the hash 1 (`SIGHASH_SINGLE_BUG_HASH`) when the input has
no output of the same index. FindAndDelete of the signature is the caller's business,
as in Core (the interpreter does it).

`segwit_v0_sighash` is BIP-0143's digest (hashPrevouts, hashSequence, hashOutputs).

Both return the 32-byte digest in internal byte order (reverse it to print it as
Bitcoin does). `PrecomputedTxData` serializes each input and output once per
transaction and computes the BIP-0143 midstate hashes at most once, so signing or
verifying many inputs of one transaction does not re-serialize it.
"""

import hashlib
import struct

from coin.serialize import compact_size

__all__ = [
    "SIGHASH_ALL",
    "SIGHASH_NONE",
    "SIGHASH_SINGLE",
    "SIGHASH_ANYONECANPAY",
    "SIGHASH_SINGLE_BUG_HASH",
    "SIGVERSION_BASE",
    "SIGVERSION_WITNESS_V0",
    "PrecomputedTxData",
    "legacy_sighash",
    "segwit_v0_sighash",
    "signature_hash",
]

SIGHASH_ALL = 1
SIGHASH_NONE = 2
SIGHASH_SINGLE = 3
SIGHASH_ANYONECANPAY = 0x80

SIGVERSION_BASE = 0
SIGVERSION_WITNESS_V0 = 1

# uint256::ONE in internal byte order: what Core "signs" for SIGHASH_SINGLE without an output.
SIGHASH_SINGLE_BUG_HASH = b"\x01" + b"\x00" * 31

_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_ZERO_SEQ = b"\x00\x00\x00\x00"
_BLANK_OUTPUT = b"\xff" * 8 + b"\x00"  # CTxOut(): value -1, empty script
_sha256 = hashlib.sha256


def _sha256d(data: bytes) -> bytes:
    return _sha256(_sha256(data).digest()).digest()


class PrecomputedTxData:
    """Per-transaction data shared by the signature hashes of all its inputs.

    Core's PrecomputedTransactionData: build it once per transaction (with the outputs
    the inputs spend, in input order, when known) and pass it to every sighash / verify
    call for that transaction. Cheap to build; the BIP-0143 hashes are computed on
    first use.
    """

    __slots__ = ("tx", "spent_outputs", "version", "lock_time", "prevouts", "sequences",
                 "outputs", "_empty_inputs", "_empty_inputs_zero_seq", "_all_outputs",
                 "_hash_prevouts", "_hash_sequence", "_hash_outputs")

    def __init__(self, tx, spent_outputs=None):
        self.tx = tx
        self.spent_outputs = list(spent_outputs) if spent_outputs is not None else None
        self.version = _U32.pack(tx.version & 0xFFFFFFFF)
        self.lock_time = _U32.pack(tx.lock_time)
        self.prevouts = [txin.prevout.to_bytes() for txin in tx.inputs]
        self.sequences = [_U32.pack(txin.sequence) for txin in tx.inputs]
        self.outputs = [out.to_bytes() for out in tx.outputs]
        self._empty_inputs = None
        self._empty_inputs_zero_seq = None
        self._all_outputs = None
        self._hash_prevouts = None
        self._hash_sequence = None
        self._hash_outputs = None

    # -- legacy pieces ----------------------------------------------------------
    def empty_inputs(self, zero_sequence: bool) -> list[bytes]:
        """Each input serialized with an empty scriptSig (sequence zeroed if asked)."""
        if zero_sequence:
            if self._empty_inputs_zero_seq is None:
                self._empty_inputs_zero_seq = [p + b"\x00" + _ZERO_SEQ for p in self.prevouts]
            return self._empty_inputs_zero_seq
        if self._empty_inputs is None:
            self._empty_inputs = [p + b"\x00" + s for p, s in zip(self.prevouts, self.sequences, strict=True)]
        return self._empty_inputs

    def all_outputs(self) -> bytes:
        if self._all_outputs is None:
            self._all_outputs = b"".join(self.outputs)
        return self._all_outputs

    # -- BIP-0143 midstate --------------------------------------------------------
    @property
    def hash_prevouts(self) -> bytes:
        if self._hash_prevouts is None:
            self._hash_prevouts = _sha256d(b"".join(self.prevouts))
        return self._hash_prevouts

    @property
    def hash_sequence(self) -> bytes:
        if self._hash_sequence is None:
            self._hash_sequence = _sha256d(b"".join(self.sequences))
        return self._hash_sequence

    @property
    def hash_outputs(self) -> bytes:
        if self._hash_outputs is None:
            self._hash_outputs = _sha256d(self.all_outputs())
        return self._hash_outputs


def _serialize_script_code(script_code: bytes) -> bytes:
    """Core's SerializeScriptCode: CompactSize + the script without OP_CODESEPARATORs.

    Reproduces Core exactly, including its behaviour on a truncated final push (the
    length prefix counts the whole script, the bytes stop where parsing stopped).
    """
    end = len(script_code)
    pos = 0
    seps = []          # offsets of the OP_CODESEPARATOR bytes
    stop = end         # where GetOp stopped
    while pos < end:
        op = script_code[pos]
        nxt = pos + 1
        if op <= 0x4E:
            if op < 0x4C:
                size = op
            elif op == 0x4C:
                if nxt + 1 > end:
                    stop = nxt
                    break
                size = script_code[nxt]
                nxt += 1
            elif op == 0x4D:
                if nxt + 2 > end:
                    stop = nxt
                    break
                size = script_code[nxt] | (script_code[nxt + 1] << 8)
                nxt += 2
            else:
                if nxt + 4 > end:
                    stop = nxt
                    break
                size = int.from_bytes(script_code[nxt:nxt + 4], "little")
                nxt += 4
            if end - nxt < size:
                stop = nxt
                break
            nxt += size
        elif op == 0xAB:
            seps.append(pos)
        pos = nxt
    if not seps and stop == end:
        return compact_size(end) + script_code
    parts = [compact_size(end - len(seps))]
    begin = 0
    for s in seps:
        parts.append(script_code[begin:s])
        begin = s + 1
    if begin != end:
        parts.append(script_code[begin:stop])
    return b"".join(parts)


def legacy_sighash(tx, index: int, script_code: bytes, hash_type: int,
                   precomputed: PrecomputedTxData | None = None) -> bytes:
    """Core's legacy SignatureHash: the digest signed by input `index` under `hash_type`.

    `hash_type` is the full 32-bit value (signed or unsigned); only its low bits select
    the mode, all 32 bits are hashed. Returns SIGHASH_SINGLE_BUG_HASH for SIGHASH_SINGLE
    with `index` >= number of outputs. Raises IndexError if `index` is not an input.
    """
    pre = precomputed if precomputed is not None else PrecomputedTxData(tx)
    n_in = len(pre.prevouts)
    if not 0 <= index < n_in:
        raise IndexError(f"input index {index} out of range")
    base = hash_type & 0x1F
    single = base == SIGHASH_SINGLE
    none = base == SIGHASH_NONE
    n_out = len(pre.outputs)
    if single and index >= n_out:
        return SIGHASH_SINGLE_BUG_HASH
    code = _serialize_script_code(script_code)
    parts = [pre.version]
    if hash_type & SIGHASH_ANYONECANPAY:
        parts.append(b"\x01")
        parts.append(pre.prevouts[index])
        parts.append(code)
        parts.append(pre.sequences[index])
    else:
        empty = pre.empty_inputs(single or none)
        parts.append(compact_size(n_in))
        parts.extend(empty[:index])
        parts.append(pre.prevouts[index])
        parts.append(code)
        parts.append(pre.sequences[index])
        parts.extend(empty[index + 1:])
    if none:
        parts.append(b"\x00")
    elif single:
        parts.append(compact_size(index + 1))
        parts.append(_BLANK_OUTPUT * index)
        parts.append(pre.outputs[index])
    else:
        parts.append(compact_size(n_out))
        parts.append(pre.all_outputs())
    parts.append(pre.lock_time)
    parts.append(_U32.pack(hash_type & 0xFFFFFFFF))
    return _sha256d(b"".join(parts))


def segwit_v0_sighash(tx, index: int, script_code: bytes, amount: int, hash_type: int,
                      precomputed: PrecomputedTxData | None = None) -> bytes:
    """BIP-0143's signature hash for input `index` spending `amount` satoshis.

    `script_code` is hashed as given (no OP_CODESEPARATOR removal: the interpreter has
    already cut it at the last executed separator). Raises IndexError if `index` is
    not an input.
    """
    pre = precomputed if precomputed is not None else PrecomputedTxData(tx)
    if not 0 <= index < len(pre.prevouts):
        raise IndexError(f"input index {index} out of range")
    base = hash_type & 0x1F
    acp = hash_type & SIGHASH_ANYONECANPAY
    zero = b"\x00" * 32
    hash_prevouts = zero if acp else pre.hash_prevouts
    if acp or base == SIGHASH_SINGLE or base == SIGHASH_NONE:
        hash_sequence = zero
    else:
        hash_sequence = pre.hash_sequence
    if base != SIGHASH_SINGLE and base != SIGHASH_NONE:
        hash_outputs = pre.hash_outputs
    elif base == SIGHASH_SINGLE and index < len(pre.outputs):
        hash_outputs = _sha256d(pre.outputs[index])
    else:
        hash_outputs = zero
    data = b"".join((
        pre.version, hash_prevouts, hash_sequence, pre.prevouts[index],
        compact_size(len(script_code)), script_code, _I64.pack(amount), pre.sequences[index],
        hash_outputs, pre.lock_time, _U32.pack(hash_type & 0xFFFFFFFF),
    ))
    return _sha256d(data)


def signature_hash(script_code: bytes, tx, index: int, hash_type: int, amount: int = 0,
                   sigversion: int = SIGVERSION_BASE,
                   precomputed: PrecomputedTxData | None = None) -> bytes:
    """Core's SignatureHash(scriptCode, txTo, nIn, nHashType, amount, sigversion)."""
    if sigversion == SIGVERSION_WITNESS_V0:
        return segwit_v0_sighash(tx, index, script_code, amount, hash_type, precomputed)
    return legacy_sighash(tx, index, script_code, hash_type, precomputed)
