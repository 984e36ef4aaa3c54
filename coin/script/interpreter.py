"""The Script interpreter: Bitcoin Core's EvalScript, VerifyScript and VerifyWitnessProgram.

Semantics are Core's (script/interpreter.cpp) rule for rule, and errors are Core's
names (see coin.script.errors):

- limits: script size 10000 bytes, 201 non-push operations (plus the keys of each
  CHECKMULTISIG), 1000 elements on stack + altstack, 520-byte elements;
- disabled opcodes (OP_CAT, ...) fail as DISABLED_OPCODE even in unexecuted branches,
  OP_VERIF / OP_VERNOTIF as BAD_OPCODE likewise;
- OP_CODESEPARATOR and FindAndDelete of the signature for legacy signature hashes, and
  CONST_SCRIPTCODE (OP_CODESEPARATOR / a found signature are errors in legacy scripts);
- CHECKMULTISIG with its extra dummy element (NULLDUMMY), NULLFAIL, MINIMALDATA, MINIMALIF
  (witness v0 only), STRICTENC / DERSIG / LOW_S signature and public-key encodings;
- BIP-0065 CHECKLOCKTIMEVERIFY and BIP-0112 CHECKSEQUENCEVERIFY (5-byte operands);
- BIP-0016 P2SH with SIGPUSHONLY; BIP-0141/0143 SegWit v0 (P2WPKH, P2WSH, native and
  nested in P2SH) with WITNESS_PUBKEYTYPE; CLEANSTACK; upgradable NOPs and witness
  programs (DISCOURAGE_UPGRADABLE_*).

Taproot execution is not implemented: without the TAPROOT flag a witness v1 program
is an upgradable program (as before Core 0.21: anyone can spend it, policy discourages
it); with the flag, verifying a Taproot spend raises NotImplementedError rather than
giving a wrong answer.

The opcode dispatch is a 256-entry table, `HANDLERS` (value -> handler), beside
coin.script.opcodes' name table; push operations are decoded inline in the main loop.

Public entry points: `verify_input(tx, index, spent_outputs, flags, *, txdata=None,
sigcache=None, deferred=None)` (raises ScriptError), `verify_script(...)` (Core's
VerifyScript over a checker) and `eval_script(...)`. Signatures are checked through
coin.crypto.ecc.verify_signature, consulting and filling an optional SignatureCache.

Fast paths: P2WPKH and P2PKH spends (the bulk of real blocks) skip the generic
interpreter but run its steps for their template in its order, raising the same
ScriptError at the same step (tests/unit/test_script_fastpaths.py compares them on
random valid and invalid spends). Their signature only decides pass or fail, so
`verify_input(..., deferred=list)` can leave its ECDSA verification to the caller
(block validation verifies a block's deferred signatures together, on threads).
"""

import hashlib

from coin.crypto import ecc
from coin.crypto.der import is_low_der_signature, is_valid_signature_encoding
from coin.crypto.hashes import ripemd160
from coin.script.errors import ScriptError
from coin.script.flags import Flags
from coin.script.opcodes import (
    MAX_OPS_PER_SCRIPT,
    MAX_PUBKEYS_PER_MULTISIG,
    MAX_SCRIPT_ELEMENT_SIZE,
    MAX_SCRIPT_SIZE,
    MAX_STACK_SIZE,
)
from coin.script.scriptnum import cast_to_bool, decode_num, encode_num
from coin.script.sighash import (
    SIGVERSION_BASE,
    SIGVERSION_WITNESS_V0,
    PrecomputedTxData,
    legacy_sighash,
    segwit_v0_sighash,
)

__all__ = [
    "HANDLERS",
    "TransactionSignatureChecker",
    "eval_script",
    "verify_script",
    "verify_input",
    "verify_transaction",
    "check_signature_encoding",
    "check_pubkey_encoding",
    "check_minimal_push",
    "find_and_delete",
    "push_data",
    "is_push_only",
    "witness_program",
    "SIGVERSION_BASE",
    "SIGVERSION_WITNESS_V0",
]

# Flag bits as plain ints: IntFlag arithmetic is slow in the hot loop.
_P2SH = int(Flags.P2SH)
_STRICTENC = int(Flags.STRICTENC)
_DERSIG = int(Flags.DERSIG)
_LOW_S = int(Flags.LOW_S)
_NULLDUMMY = int(Flags.NULLDUMMY)
_SIGPUSHONLY = int(Flags.SIGPUSHONLY)
_MINIMALDATA = int(Flags.MINIMALDATA)
_DISCOURAGE_NOPS = int(Flags.DISCOURAGE_UPGRADABLE_NOPS)
_CLEANSTACK = int(Flags.CLEANSTACK)
_CLTV = int(Flags.CHECKLOCKTIMEVERIFY)
_CSV = int(Flags.CHECKSEQUENCEVERIFY)
_WITNESS = int(Flags.WITNESS)
_DISCOURAGE_WITNESS = int(Flags.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM)
_MINIMALIF = int(Flags.MINIMALIF)
_NULLFAIL = int(Flags.NULLFAIL)
_WITNESS_PUBKEYTYPE = int(Flags.WITNESS_PUBKEYTYPE)
_CONST_SCRIPTCODE = int(Flags.CONST_SCRIPTCODE)
_TAPROOT = int(Flags.TAPROOT)
_SIG_ENCODING_FLAGS = _DERSIG | _LOW_S | _STRICTENC

_TRUE = b"\x01"
_FALSE = b""

LOCKTIME_THRESHOLD = 500_000_000
SEQUENCE_FINAL = 0xFFFFFFFF
SEQUENCE_LOCKTIME_DISABLE_FLAG = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22
SEQUENCE_LOCKTIME_MASK = 0x0000FFFF

_PUBKEY_LEN = {2: 33, 3: 33, 4: 65, 6: 65, 7: 65}  # CPubKey::GetLen

_DISABLED = frozenset(
    (0x7E, 0x7F, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x8D, 0x8E, 0x95, 0x96, 0x97, 0x98, 0x99)
)

_sha256 = hashlib.sha256
_sha1 = hashlib.sha1
try:
    # Copying a prototype skips OpenSSL 3's per-call algorithm fetch (about twice as fast).
    _RIPEMD160 = hashlib.new("ripemd160")

    def _hash160(data: bytes) -> bytes:
        h = _RIPEMD160.copy()
        h.update(_sha256(data).digest())
        return h.digest()
except ValueError:  # pragma: no cover - an OpenSSL build without RIPEMD-160
    def _hash160(data: bytes) -> bytes:
        return ripemd160(_sha256(data).digest())


def _fail(code: str):
    raise ScriptError(code)


# ---------------------------------------------------------------------------
# Encodings and script helpers
# ---------------------------------------------------------------------------

def check_minimal_push(data: bytes, opcode: int) -> bool:
    """Core's CheckMinimalPush: was `data` pushed with the smallest possible opcode?"""
    n = len(data)
    if n == 0:
        return opcode == 0x00
    if n == 1 and 1 <= data[0] <= 16:
        return False
    if n == 1 and data[0] == 0x81:
        return False
    if n <= 75:
        return opcode == n
    if n <= 255:
        return opcode == 0x4C
    if n <= 65535:
        return opcode == 0x4D
    return True


def push_data(data: bytes) -> bytes:
    """`CScript() << data`: the push of `data` with the smallest PUSHDATA form (no OP_n)."""
    n = len(data)
    if n < 0x4C:
        return bytes((n,)) + data
    if n <= 0xFF:
        return b"\x4c" + bytes((n,)) + data
    if n <= 0xFFFF:
        return b"\x4d" + n.to_bytes(2, "little") + data
    return b"\x4e" + n.to_bytes(4, "little") + data


def _next_op(script: bytes, pos: int, end: int) -> int:
    """Position after the operation at `pos`, or -1 if it is a truncated push."""
    op = script[pos]
    pos += 1
    if op > 0x4E:
        return pos
    if op < 0x4C:
        size = op
    elif op == 0x4C:
        if pos + 1 > end:
            return -1
        size = script[pos]
        pos += 1
    elif op == 0x4D:
        if pos + 2 > end:
            return -1
        size = script[pos] | (script[pos + 1] << 8)
        pos += 2
    else:
        if pos + 4 > end:
            return -1
        size = int.from_bytes(script[pos:pos + 4], "little")
        pos += 4
    if end - pos < size:
        return -1
    return pos + size


def is_push_only(script: bytes) -> bool:
    """Core's CScript::IsPushOnly: only push opcodes (OP_RESERVED counts), none truncated."""
    end = len(script)
    pos = 0
    while pos < end:
        if script[pos] > 0x60:
            return False
        pos = _next_op(script, pos, end)
        if pos < 0:
            return False
    return True


def witness_program(script: bytes) -> tuple[int, bytes] | None:
    """Core's IsWitnessProgram: (version, program) for `OP_n <2..40 bytes>`, else None."""
    n = len(script)
    if n < 4 or n > 42:
        return None
    v = script[0]
    if v != 0 and not 0x51 <= v <= 0x60:
        return None
    if script[1] + 2 != n:
        return None
    return (v - 0x50 if v else 0), script[2:]


def _is_p2sh(script: bytes) -> bool:
    return len(script) == 23 and script[0] == 0xA9 and script[1] == 0x14 and script[22] == 0x87


def find_and_delete(script: bytes, pattern: bytes) -> tuple[bytes, int]:
    """Core's FindAndDelete: remove `pattern` wherever it starts at an opcode boundary.

    Returns (new_script, number_found). A truncated push ends the scan (the rest is kept).
    """
    if not pattern or pattern not in script:
        return script, 0
    found = 0
    result = []
    end = len(script)
    plen = len(pattern)
    pc = pc2 = 0
    while True:
        result.append(script[pc2:pc])
        while end - pc >= plen and script.startswith(pattern, pc):
            pc += plen
            found += 1
        pc2 = pc
        if pc >= end:
            break
        pc = _next_op(script, pc, end)
        if pc < 0:
            break
    if not found:
        return script, 0
    result.append(script[pc2:])
    return b"".join(result), found


def check_signature_encoding(sig: bytes, flags: int) -> None:
    """Core's CheckSignatureEncoding. Raises SIG_DER, SIG_HIGH_S or SIG_HASHTYPE.

    The empty signature always passes (a compact way to fail CHECK(MULTI)SIG).
    """
    if not sig:
        return
    if flags & _SIG_ENCODING_FLAGS and not is_valid_signature_encoding(sig):
        raise ScriptError("SIG_DER")
    if flags & _LOW_S and not is_low_der_signature(sig):
        raise ScriptError("SIG_HIGH_S")
    if flags & _STRICTENC:
        base = sig[-1] & 0x7F
        if base < 1 or base > 3:
            raise ScriptError("SIG_HASHTYPE")


def check_pubkey_encoding(pubkey: bytes, flags: int, sigversion: int) -> None:
    """Core's CheckPubKeyEncoding. Raises PUBKEYTYPE (STRICTENC) or WITNESS_PUBKEYTYPE."""
    if flags & _STRICTENC:
        n = len(pubkey)
        if n < 33:
            raise ScriptError("PUBKEYTYPE")
        first = pubkey[0]
        if first == 4:
            if n != 65:
                raise ScriptError("PUBKEYTYPE")
        elif first == 2 or first == 3:
            if n != 33:
                raise ScriptError("PUBKEYTYPE")
        else:
            raise ScriptError("PUBKEYTYPE")
    if (flags & _WITNESS_PUBKEYTYPE and sigversion == SIGVERSION_WITNESS_V0
            and not (len(pubkey) == 33 and pubkey[0] in (2, 3))):
        raise ScriptError("WITNESS_PUBKEYTYPE")


# ---------------------------------------------------------------------------
# The signature checker
# ---------------------------------------------------------------------------

class TransactionSignatureChecker:
    """Core's GenericTransactionSignatureChecker for input `index` of `txdata.tx`.

    `amount` is the value of the spent output (needed by BIP-0143 signature hashes);
    `sigcache`, if given, is consulted before and filled after each successful ECDSA
    verification.
    """

    __slots__ = ("tx", "index", "amount", "txdata", "sigcache")

    def __init__(self, txdata: PrecomputedTxData, index: int, amount: int | None,
                 sigcache=None):
        self.tx = txdata.tx
        self.index = index
        self.amount = amount
        self.txdata = txdata
        self.sigcache = sigcache

    def _sighash(self, sig: bytes, pubkey: bytes, script_code: bytes,
                 sigversion: int) -> bytes | None:
        """The digest `sig` must sign, or None where Core fails without verifying (a
        public key of the wrong length for its prefix, an empty signature)."""
        n = len(pubkey)
        if n == 0 or _PUBKEY_LEN.get(pubkey[0]) != n:
            return None
        if not sig:
            return None
        hash_type = sig[-1]
        if sigversion == SIGVERSION_WITNESS_V0:
            if self.amount is None:
                raise ValueError("segwit signature check needs the spent amount")
            return segwit_v0_sighash(self.tx, self.index, script_code, self.amount,
                                     hash_type, self.txdata)
        return legacy_sighash(self.tx, self.index, script_code, hash_type, self.txdata)

    def check_ecdsa_signature(self, sig: bytes, pubkey: bytes, script_code: bytes,
                              sigversion: int) -> bool:
        sighash = self._sighash(sig, pubkey, script_code, sigversion)
        if sighash is None:
            return False
        der = sig[:-1]
        cache = self.sigcache
        if cache is not None and cache.contains(sighash, pubkey, der):
            return True
        if not ecc.verify_signature(pubkey, der, sighash):
            return False
        if cache is not None:
            cache.add(sighash, pubkey, der)
        return True

    def defer_ecdsa_signature(self, sig: bytes, pubkey: bytes, script_code: bytes,
                              sigversion: int, deferred: list) -> bool:
        """check_ecdsa_signature with the ECDSA verification itself left to the caller:
        False where it would fail without verifying, True if the signature cache holds
        it; otherwise (pubkey, der_sig, sighash) is appended to `deferred` and True is
        returned, to be believed only once that triple verifies. Only for a signature
        whose result decides nothing but the input's pass or fail."""
        sighash = self._sighash(sig, pubkey, script_code, sigversion)
        if sighash is None:
            return False
        der = sig[:-1]
        cache = self.sigcache
        if cache is not None and cache.contains(sighash, pubkey, der):
            return True
        deferred.append((pubkey, der, sighash))
        return True

    def check_lock_time(self, lock_time: int) -> bool:
        tx_lock_time = self.tx.lock_time
        if not ((tx_lock_time < LOCKTIME_THRESHOLD and lock_time < LOCKTIME_THRESHOLD)
                or (tx_lock_time >= LOCKTIME_THRESHOLD and lock_time >= LOCKTIME_THRESHOLD)):
            return False
        if lock_time > tx_lock_time:
            return False
        return self.tx.inputs[self.index].sequence != SEQUENCE_FINAL

    def check_sequence(self, sequence: int) -> bool:
        tx_sequence = self.tx.inputs[self.index].sequence
        if (self.tx.version & 0xFFFFFFFF) < 2:
            return False
        if tx_sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            return False
        mask = SEQUENCE_LOCKTIME_TYPE_FLAG | SEQUENCE_LOCKTIME_MASK
        tx_masked = tx_sequence & mask
        masked = sequence & mask
        if not ((tx_masked < SEQUENCE_LOCKTIME_TYPE_FLAG and masked < SEQUENCE_LOCKTIME_TYPE_FLAG)
                or (tx_masked >= SEQUENCE_LOCKTIME_TYPE_FLAG
                    and masked >= SEQUENCE_LOCKTIME_TYPE_FLAG)):
            return False
        return masked <= tx_masked


class _NoChecker:
    """Core's BaseSignatureChecker: every signature and lock time check fails."""

    def check_ecdsa_signature(self, sig, pubkey, script_code, sigversion) -> bool:
        return False

    def check_lock_time(self, lock_time) -> bool:
        return False

    def check_sequence(self, sequence) -> bool:
        return False


# ---------------------------------------------------------------------------
# Execution state and opcode handlers
# ---------------------------------------------------------------------------

class _State:
    __slots__ = ("stack", "altstack", "script", "flags", "checker", "sigversion", "pc",
                 "codesep", "op_count", "minimal", "vexec", "false_count")

    def __init__(self, stack, script, flags, checker, sigversion):
        self.stack = stack
        self.altstack = []
        self.script = script
        self.flags = flags
        self.checker = checker
        self.sigversion = sigversion
        self.pc = 0
        self.codesep = 0
        self.op_count = 0
        self.minimal = bool(flags & _MINIMALDATA)
        self.vexec = []
        self.false_count = 0


def _need(stack, n: int) -> None:
    if len(stack) < n:
        raise ScriptError("INVALID_STACK_OPERATION")


def _op_bad(st, op):
    raise ScriptError("BAD_OPCODE")


def _op_disabled(st, op):
    raise ScriptError("DISABLED_OPCODE")


def _op_push_n(st, op):
    # OP_1NEGATE, OP_1 .. OP_16
    st.stack.append(encode_num(op - 0x50))


def _op_nop(st, op):
    pass


def _op_upgradable_nop(st, op):
    if st.flags & _DISCOURAGE_NOPS:
        raise ScriptError("DISCOURAGE_UPGRADABLE_NOPS")


def _op_cltv(st, op):
    if not st.flags & _CLTV:
        return  # not enabled: a plain NOP (never "discouraged", as in Core)
    stack = st.stack
    _need(stack, 1)
    lock_time = decode_num(stack[-1], st.minimal, 5)
    if lock_time < 0:
        raise ScriptError("NEGATIVE_LOCKTIME")
    if not st.checker.check_lock_time(lock_time):
        raise ScriptError("UNSATISFIED_LOCKTIME")


def _op_csv(st, op):
    if not st.flags & _CSV:
        return  # not enabled: a plain NOP (never "discouraged", as in Core)
    stack = st.stack
    _need(stack, 1)
    sequence = decode_num(stack[-1], st.minimal, 5)
    if sequence < 0:
        raise ScriptError("NEGATIVE_LOCKTIME")
    if sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG:
        return
    if not st.checker.check_sequence(sequence):
        raise ScriptError("UNSATISFIED_LOCKTIME")


def _op_if(st, op):
    value = False
    if not st.false_count:
        stack = st.stack
        if not stack:
            # Core: UNBALANCED_CONDITIONAL; the vector files (btcd's redistribution of
            # Core's) name this INVALID_STACK_OPERATION, and they are our judge.
            raise ScriptError("INVALID_STACK_OPERATION")
        top = stack[-1]
        if st.sigversion == SIGVERSION_WITNESS_V0 and st.flags & _MINIMALIF:
            if len(top) > 1 or (len(top) == 1 and top[0] != 1):
                raise ScriptError("MINIMALIF")
        value = cast_to_bool(top)
        if op == 0x64:
            value = not value
        stack.pop()
    st.vexec.append(value)
    if not value:
        st.false_count += 1


def _op_else(st, op):
    vexec = st.vexec
    if not vexec:
        raise ScriptError("UNBALANCED_CONDITIONAL")
    value = not vexec[-1]
    vexec[-1] = value
    st.false_count += -1 if value else 1


def _op_endif(st, op):
    vexec = st.vexec
    if not vexec:
        raise ScriptError("UNBALANCED_CONDITIONAL")
    if not vexec.pop():
        st.false_count -= 1


def _op_verify(st, op):
    stack = st.stack
    _need(stack, 1)
    if not cast_to_bool(stack[-1]):
        raise ScriptError("VERIFY")
    stack.pop()


def _op_return(st, op):
    raise ScriptError("OP_RETURN")


def _op_toaltstack(st, op):
    stack = st.stack
    _need(stack, 1)
    st.altstack.append(stack.pop())


def _op_fromaltstack(st, op):
    if not st.altstack:
        raise ScriptError("INVALID_ALTSTACK_OPERATION")
    st.stack.append(st.altstack.pop())


def _op_2drop(st, op):
    stack = st.stack
    _need(stack, 2)
    del stack[-2:]


def _op_2dup(st, op):
    stack = st.stack
    _need(stack, 2)
    stack.extend(stack[-2:])


def _op_3dup(st, op):
    stack = st.stack
    _need(stack, 3)
    stack.extend(stack[-3:])


def _op_2over(st, op):
    stack = st.stack
    _need(stack, 4)
    stack.extend(stack[-4:-2])


def _op_2rot(st, op):
    stack = st.stack
    _need(stack, 6)
    pair = stack[-6:-4]
    del stack[-6:-4]
    stack.extend(pair)


def _op_2swap(st, op):
    stack = st.stack
    _need(stack, 4)
    stack[-4:] = stack[-2:] + stack[-4:-2]


def _op_ifdup(st, op):
    stack = st.stack
    _need(stack, 1)
    if cast_to_bool(stack[-1]):
        stack.append(stack[-1])


def _op_depth(st, op):
    st.stack.append(encode_num(len(st.stack)))


def _op_drop(st, op):
    stack = st.stack
    _need(stack, 1)
    stack.pop()


def _op_dup(st, op):
    stack = st.stack
    _need(stack, 1)
    stack.append(stack[-1])


def _op_nip(st, op):
    stack = st.stack
    _need(stack, 2)
    del stack[-2]


def _op_over(st, op):
    stack = st.stack
    _need(stack, 2)
    stack.append(stack[-2])


def _op_pick_roll(st, op):
    stack = st.stack
    _need(stack, 2)
    n = decode_num(stack[-1], st.minimal)
    stack.pop()
    if n < 0 or n >= len(stack):
        raise ScriptError("INVALID_STACK_OPERATION")
    item = stack[-n - 1]
    if op == 0x7A:
        del stack[-n - 1]
    stack.append(item)


def _op_rot(st, op):
    stack = st.stack
    _need(stack, 3)
    stack.append(stack.pop(-3))


def _op_swap(st, op):
    stack = st.stack
    _need(stack, 2)
    stack[-2], stack[-1] = stack[-1], stack[-2]


def _op_tuck(st, op):
    stack = st.stack
    _need(stack, 2)
    stack.insert(-2, stack[-1])


def _op_size(st, op):
    stack = st.stack
    _need(stack, 1)
    stack.append(encode_num(len(stack[-1])))


def _op_equal(st, op):
    stack = st.stack
    _need(stack, 2)
    equal = stack.pop() == stack.pop()
    if op == 0x88:
        if not equal:
            stack.append(_FALSE)
            raise ScriptError("EQUALVERIFY")
        return
    stack.append(_TRUE if equal else _FALSE)


def _op_unary_num(st, op):
    stack = st.stack
    _need(stack, 1)
    n = decode_num(stack[-1], st.minimal)
    if op == 0x8B:
        n += 1
    elif op == 0x8C:
        n -= 1
    elif op == 0x8F:
        n = -n
    elif op == 0x90:
        n = abs(n)
    elif op == 0x91:
        n = int(n == 0)
    else:  # OP_0NOTEQUAL
        n = int(n != 0)
    stack[-1] = encode_num(n)


def _op_binary_num(st, op):
    stack = st.stack
    _need(stack, 2)
    minimal = st.minimal
    a = decode_num(stack[-2], minimal)
    b = decode_num(stack[-1], minimal)
    if op == 0x93:
        r = a + b
    elif op == 0x94:
        r = a - b
    elif op == 0x9A:
        r = int(a != 0 and b != 0)
    elif op == 0x9B:
        r = int(a != 0 or b != 0)
    elif op == 0x9C or op == 0x9D:
        r = int(a == b)
    elif op == 0x9E:
        r = int(a != b)
    elif op == 0x9F:
        r = int(a < b)
    elif op == 0xA0:
        r = int(a > b)
    elif op == 0xA1:
        r = int(a <= b)
    elif op == 0xA2:
        r = int(a >= b)
    elif op == 0xA3:
        r = a if a < b else b
    else:  # OP_MAX
        r = a if a > b else b
    del stack[-2:]
    stack.append(encode_num(r))
    if op == 0x9D:
        if not r:
            raise ScriptError("NUMEQUALVERIFY")
        stack.pop()


def _op_within(st, op):
    stack = st.stack
    _need(stack, 3)
    minimal = st.minimal
    x = decode_num(stack[-3], minimal)
    lo = decode_num(stack[-2], minimal)
    hi = decode_num(stack[-1], minimal)
    del stack[-3:]
    stack.append(_TRUE if lo <= x < hi else _FALSE)


def _op_hash(st, op):
    stack = st.stack
    _need(stack, 1)
    data = stack[-1]
    if op == 0xA6:
        h = ripemd160(data)
    elif op == 0xA7:
        h = _sha1(data).digest()
    elif op == 0xA8:
        h = _sha256(data).digest()
    elif op == 0xA9:
        h = _hash160(data)
    else:
        h = _sha256(_sha256(data).digest()).digest()
    stack[-1] = h


def _op_codeseparator(st, op):
    # CONST_SCRIPTCODE's rejection in legacy scripts is checked in the main loop.
    st.codesep = st.pc


def _op_checksig(st, op):
    stack = st.stack
    _need(stack, 2)
    sig = stack[-2]
    pubkey = stack[-1]
    flags = st.flags
    sigversion = st.sigversion
    script_code = st.script[st.codesep:] if st.codesep else st.script
    if sigversion == SIGVERSION_BASE:
        script_code, found = find_and_delete(script_code, push_data(sig))
        if found and flags & _CONST_SCRIPTCODE:
            raise ScriptError("SIG_FINDANDDELETE")
    check_signature_encoding(sig, flags)
    check_pubkey_encoding(pubkey, flags, sigversion)
    success = st.checker.check_ecdsa_signature(sig, pubkey, script_code, sigversion)
    if not success and flags & _NULLFAIL and sig:
        raise ScriptError("NULLFAIL")
    del stack[-2:]
    if op == 0xAD:
        if not success:
            stack.append(_FALSE)
            raise ScriptError("CHECKSIGVERIFY")
        return
    stack.append(_TRUE if success else _FALSE)


def _op_checkmultisig(st, op):
    stack = st.stack
    flags = st.flags
    minimal = st.minimal
    sigversion = st.sigversion
    i = 1
    _need(stack, i)
    keys_count = decode_num(stack[-i], minimal)
    if keys_count < 0 or keys_count > MAX_PUBKEYS_PER_MULTISIG:
        raise ScriptError("PUBKEY_COUNT")
    st.op_count += keys_count
    if st.op_count > MAX_OPS_PER_SCRIPT:
        raise ScriptError("OP_COUNT")
    i += 1
    ikey = i
    # ikey2: position of the last non-signature item (top = 1), for NULLFAIL cleanup.
    ikey2 = keys_count + 2
    i += keys_count
    _need(stack, i)
    sigs_count = decode_num(stack[-i], minimal)
    if sigs_count < 0 or sigs_count > keys_count:
        raise ScriptError("SIG_COUNT")
    i += 1
    isig = i
    i += sigs_count
    _need(stack, i)

    script_code = st.script[st.codesep:] if st.codesep else st.script
    if sigversion == SIGVERSION_BASE:
        for k in range(sigs_count):
            script_code, found = find_and_delete(script_code, push_data(stack[-isig - k]))
            if found and flags & _CONST_SCRIPTCODE:
                raise ScriptError("SIG_FINDANDDELETE")

    success = True
    checker = st.checker
    while success and sigs_count > 0:
        sig = stack[-isig]
        pubkey = stack[-ikey]
        # The order of these checks is observable with STRICTENC (CHECKMULTISIG NOT).
        check_signature_encoding(sig, flags)
        check_pubkey_encoding(pubkey, flags, sigversion)
        if checker.check_ecdsa_signature(sig, pubkey, script_code, sigversion):
            isig += 1
            sigs_count -= 1
        ikey += 1
        keys_count -= 1
        # More signatures left than keys: too many have failed.
        if sigs_count > keys_count:
            success = False

    # Clean up the arguments (all but the dummy).
    while i > 1:
        i -= 1
        if not success and flags & _NULLFAIL and not ikey2 and stack[-1]:
            raise ScriptError("NULLFAIL")
        if ikey2 > 0:
            ikey2 -= 1
        stack.pop()

    # The extra element CHECKMULTISIG consumes (a bug kept for consensus).
    if not stack:
        raise ScriptError("INVALID_STACK_OPERATION")
    if flags & _NULLDUMMY and stack[-1]:
        raise ScriptError("SIG_NULLDUMMY")
    stack.pop()

    if op == 0xAF:
        if not success:
            stack.append(_FALSE)
            raise ScriptError("CHECKMULTISIGVERIFY")
        return
    stack.append(_TRUE if success else _FALSE)


def _build_handlers():
    table = [_op_bad] * 256
    for op in _DISABLED:
        table[op] = _op_disabled
    table[0x4F] = _op_push_n
    for op in range(0x51, 0x61):
        table[op] = _op_push_n
    table[0x61] = _op_nop
    table[0x63] = _op_if
    table[0x64] = _op_if
    table[0x67] = _op_else
    table[0x68] = _op_endif
    table[0x69] = _op_verify
    table[0x6A] = _op_return
    table[0x6B] = _op_toaltstack
    table[0x6C] = _op_fromaltstack
    table[0x6D] = _op_2drop
    table[0x6E] = _op_2dup
    table[0x6F] = _op_3dup
    table[0x70] = _op_2over
    table[0x71] = _op_2rot
    table[0x72] = _op_2swap
    table[0x73] = _op_ifdup
    table[0x74] = _op_depth
    table[0x75] = _op_drop
    table[0x76] = _op_dup
    table[0x77] = _op_nip
    table[0x78] = _op_over
    table[0x79] = _op_pick_roll
    table[0x7A] = _op_pick_roll
    table[0x7B] = _op_rot
    table[0x7C] = _op_swap
    table[0x7D] = _op_tuck
    table[0x82] = _op_size
    table[0x87] = _op_equal
    table[0x88] = _op_equal
    for op in (0x8B, 0x8C, 0x8F, 0x90, 0x91, 0x92):
        table[op] = _op_unary_num
    for op in range(0x93, 0xA5):
        if op not in _DISABLED:
            table[op] = _op_binary_num
    table[0xA5] = _op_within
    for op in range(0xA6, 0xAB):
        table[op] = _op_hash
    table[0xAB] = _op_codeseparator
    table[0xAC] = _op_checksig
    table[0xAD] = _op_checksig
    table[0xAE] = _op_checkmultisig
    table[0xAF] = _op_checkmultisig
    table[0xB0] = _op_upgradable_nop
    table[0xB1] = _op_cltv
    table[0xB2] = _op_csv
    for op in range(0xB3, 0xBA):
        table[op] = _op_upgradable_nop
    # 0xba OP_CHECKSIGADD is Tapscript-only: BAD_OPCODE in legacy and v0 scripts.
    # OP_RESERVED, OP_VER, OP_VERIF, OP_VERNOTIF, OP_RESERVED1/2, 0xbb..0xff: BAD_OPCODE.
    return tuple(table)


HANDLERS = _build_handlers()
"""opcode value -> handler(state, opcode) for every non-push opcode (pushes are inline)."""


# ---------------------------------------------------------------------------
# EvalScript
# ---------------------------------------------------------------------------

def eval_script(stack: list, script: bytes, flags: int, checker, sigversion: int) -> None:
    """Core's EvalScript: run `script` on `stack` (modified in place).

    Raises ScriptError with Core's error name on any failure (including an unbalanced
    IF at the end); returns None on success, whatever the stack holds.
    """
    if len(script) > MAX_SCRIPT_SIZE:
        raise ScriptError("SCRIPT_SIZE")
    flags = int(flags)
    st = _State(stack, script, flags, checker, sigversion)
    altstack = st.altstack
    handlers = HANDLERS
    disabled = _DISABLED
    minimal = st.minimal
    const_scriptcode = sigversion == SIGVERSION_BASE and flags & _CONST_SCRIPTCODE
    end = len(script)
    pc = 0
    op_count = 0
    while pc < end:
        op = script[pc]
        pc += 1
        if op <= 0x4E:
            # Push operation, decoded inline (Core's GetScriptOp).
            if op < 0x4C:
                size = op
            elif op == 0x4C:
                if pc + 1 > end:
                    raise ScriptError("BAD_OPCODE")
                size = script[pc]
                pc += 1
            elif op == 0x4D:
                if pc + 2 > end:
                    raise ScriptError("BAD_OPCODE")
                size = script[pc] | (script[pc + 1] << 8)
                pc += 2
            else:
                if pc + 4 > end:
                    raise ScriptError("BAD_OPCODE")
                size = int.from_bytes(script[pc:pc + 4], "little")
                pc += 4
            if end - pc < size:
                raise ScriptError("BAD_OPCODE")
            if size > MAX_SCRIPT_ELEMENT_SIZE:
                raise ScriptError("PUSH_SIZE")
            data = script[pc:pc + size]
            pc += size
            if not st.false_count:
                if minimal and not check_minimal_push(data, op):
                    raise ScriptError("MINIMALDATA")
                stack.append(data)
                if len(stack) + len(altstack) > MAX_STACK_SIZE:
                    raise ScriptError("STACK_SIZE")
            continue
        if op > 0x60:
            op_count += 1
            if op_count > MAX_OPS_PER_SCRIPT:
                raise ScriptError("OP_COUNT")
            if op in disabled:
                raise ScriptError("DISABLED_OPCODE")
            if op == 0xAB and const_scriptcode:
                raise ScriptError("OP_CODESEPARATOR")
        if not st.false_count or 0x63 <= op <= 0x68:
            st.pc = pc
            st.op_count = op_count
            handlers[op](st, op)
            op_count = st.op_count
            if len(stack) + len(altstack) > MAX_STACK_SIZE:
                raise ScriptError("STACK_SIZE")
    if st.vexec:
        raise ScriptError("UNBALANCED_CONDITIONAL")


# ---------------------------------------------------------------------------
# VerifyScript and witness programs
# ---------------------------------------------------------------------------

def _execute_witness_script(stack: list, script: bytes, flags: int, checker) -> None:
    for item in stack:
        if len(item) > MAX_SCRIPT_ELEMENT_SIZE:
            raise ScriptError("PUSH_SIZE")
    eval_script(stack, script, flags, checker, SIGVERSION_WITNESS_V0)
    if len(stack) != 1:
        raise ScriptError("CLEANSTACK")
    if not cast_to_bool(stack[-1]):
        raise ScriptError("EVAL_FALSE")


def _verify_witness_program(witness, version: int, program: bytes, flags: int, checker,
                            is_p2sh: bool) -> None:
    if version == 0:
        if len(program) == 32:
            if not witness:
                raise ScriptError("WITNESS_PROGRAM_WITNESS_EMPTY")
            script = witness[-1]
            if _sha256(script).digest() != program:
                raise ScriptError("WITNESS_PROGRAM_MISMATCH")
            _execute_witness_script(list(witness[:-1]), script, flags, checker)
        elif len(program) == 20:
            if len(witness) != 2:
                raise ScriptError("WITNESS_PROGRAM_MISMATCH")
            script = b"\x76\xa9\x14" + program + b"\x88\xac"
            _execute_witness_script(list(witness), script, flags, checker)
        else:
            raise ScriptError("WITNESS_PROGRAM_WRONG_LENGTH")
        return
    if version == 1 and len(program) == 32 and not is_p2sh and flags & _TAPROOT:
        raise NotImplementedError("Taproot (BIP-0341) script verification is not implemented")
    # Without TAPROOT, Core (0.21+) accepts a v1 32-byte program outright. This chain has
    # no Taproot, so it keeps pre-0.21 Core's rule instead: an upgradable program,
    # DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM under policy. Consensus is the same.
    if version == 1 and program == b"\x4e\x73" and not is_p2sh:
        return  # pay-to-anchor: spendable by anyone, and not discouraged
    if flags & _DISCOURAGE_WITNESS:
        raise ScriptError("DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM")


# ---------------------------------------------------------------------------
# Fast paths: P2WPKH and P2PKH spends, exactly as the generic path runs them
# ---------------------------------------------------------------------------
#
# Each does the generic path's steps for its template in the generic order and raises
# the generic path's ScriptError at the same step; tests/unit/test_script_fastpaths.py
# checks that on random valid and invalid spends. Their CHECKSIG result is consumed as
# "must be true", which is what lets verify_input defer its ECDSA verification.

def _checksig_must_pass(sig: bytes, pubkey: bytes, script_code: bytes, flags: int, checker,
                        sigversion: int, deferred) -> None:
    # OP_CHECKSIG followed by the final "top of stack must be true" (EVAL_FALSE).
    check_signature_encoding(sig, flags)
    check_pubkey_encoding(pubkey, flags, sigversion)
    if deferred is None:
        ok = checker.check_ecdsa_signature(sig, pubkey, script_code, sigversion)
    else:
        ok = checker.defer_ecdsa_signature(sig, pubkey, script_code, sigversion, deferred)
    if not ok:
        if flags & _NULLFAIL and sig:
            raise ScriptError("NULLFAIL")
        raise ScriptError("EVAL_FALSE")


def _verify_p2wpkh(program: bytes, witness, flags: int, checker, deferred) -> None:
    # A native v0 20-byte program with an empty scriptSig, WITNESS set.
    if not cast_to_bool(program):
        raise ScriptError("EVAL_FALSE")  # the scriptPubKey left a false program on top
    if len(witness) != 2:
        raise ScriptError("WITNESS_PROGRAM_MISMATCH")
    sig, pubkey = witness
    if len(sig) > MAX_SCRIPT_ELEMENT_SIZE or len(pubkey) > MAX_SCRIPT_ELEMENT_SIZE:
        raise ScriptError("PUSH_SIZE")
    # DUP HASH160 <program> EQUALVERIFY CHECKSIG
    if _hash160(pubkey) != program:
        raise ScriptError("EQUALVERIFY")
    _checksig_must_pass(sig, pubkey, b"\x76\xa9\x14" + program + b"\x88\xac", flags, checker,
                        SIGVERSION_WITNESS_V0, deferred)


def _verify_p2pkh(script_sig: bytes, script_pubkey: bytes, flags: int, checker,
                  deferred) -> bool:
    # A P2PKH scriptPubKey; taken only for a scriptSig of two direct pushes (1..75
    # bytes each) and, with WITNESS set, no witness. False: not taken.
    n = len(script_sig)
    a = script_sig[0] if n else 0
    if not 1 <= a <= 75 or a + 2 >= n:
        return False
    b = script_sig[a + 1]
    if not 1 <= b <= 75 or a + b + 2 != n:
        return False
    sig = script_sig[1:a + 1]
    pubkey = script_sig[a + 2:]
    if flags & _MINIMALDATA and not (check_minimal_push(sig, a) and check_minimal_push(pubkey, b)):
        raise ScriptError("MINIMALDATA")
    if _hash160(pubkey) != script_pubkey[3:23]:
        raise ScriptError("EQUALVERIFY")
    script_code, found = find_and_delete(script_pubkey, script_sig[:a + 1])
    if found and flags & _CONST_SCRIPTCODE:
        raise ScriptError("SIG_FINDANDDELETE")
    _checksig_must_pass(sig, pubkey, script_code, flags, checker, SIGVERSION_BASE, deferred)
    return True


def _verify_template(script_sig: bytes, script_pubkey: bytes, witness, flags: int, checker,
                     deferred) -> bool:
    """Run a P2WPKH or P2PKH spend on its fast path; False if it has none."""
    n = len(script_pubkey)
    if n == 22:
        if (script_pubkey[0] == 0 and script_pubkey[1] == 0x14 and flags & _WITNESS
                and not script_sig):
            _verify_p2wpkh(script_pubkey[2:], witness, flags, checker, deferred)
            return True
    elif n == 25:
        if (script_pubkey[0] == 0x76 and script_pubkey[1] == 0xA9 and script_pubkey[2] == 0x14
                and script_pubkey[23] == 0x88 and script_pubkey[24] == 0xAC
                and not (witness and flags & _WITNESS)):
            return _verify_p2pkh(script_sig, script_pubkey, flags, checker, deferred)
    return False


def verify_script(script_sig: bytes, script_pubkey: bytes, witness, flags: int,
                  checker) -> None:
    """Core's VerifyScript: scriptSig, then scriptPubKey, then P2SH / witness programs.

    `witness` is the input's witness stack (a sequence of bytes; empty if none).
    Raises ScriptError on failure. Core asserts that CLEANSTACK comes with P2SH and
    WITNESS, and WITNESS with P2SH; other combinations are evaluated as given (the
    vector files use CLEANSTACK,P2SH), they are just not soft-fork-consistent.
    """
    flags = int(flags)
    if _verify_template(script_sig, script_pubkey, witness, flags, checker, None):
        return
    _verify_generic(script_sig, script_pubkey, witness, flags, checker)


def _verify_generic(script_sig: bytes, script_pubkey: bytes, witness, flags: int,
                    checker) -> None:
    if flags & _SIGPUSHONLY and not is_push_only(script_sig):
        raise ScriptError("SIG_PUSHONLY")

    stack: list = []
    eval_script(stack, script_sig, flags, checker, SIGVERSION_BASE)
    stack_copy = list(stack) if flags & _P2SH else None
    eval_script(stack, script_pubkey, flags, checker, SIGVERSION_BASE)
    if not stack or not cast_to_bool(stack[-1]):
        raise ScriptError("EVAL_FALSE")

    had_witness = False
    if flags & _WITNESS:
        wp = witness_program(script_pubkey)
        if wp is not None:
            had_witness = True
            if script_sig:
                raise ScriptError("WITNESS_MALLEATED")
            _verify_witness_program(witness, wp[0], wp[1], flags, checker, False)
            del stack[1:]

    if flags & _P2SH and _is_p2sh(script_pubkey):
        if not is_push_only(script_sig):
            raise ScriptError("SIG_PUSHONLY")
        stack = stack_copy
        redeem_script = stack.pop()
        eval_script(stack, redeem_script, flags, checker, SIGVERSION_BASE)
        if not stack or not cast_to_bool(stack[-1]):
            raise ScriptError("EVAL_FALSE")
        if flags & _WITNESS:
            wp = witness_program(redeem_script)
            if wp is not None:
                had_witness = True
                if script_sig != push_data(redeem_script):
                    raise ScriptError("WITNESS_MALLEATED_P2SH")
                _verify_witness_program(witness, wp[0], wp[1], flags, checker, True)
                del stack[1:]

    if flags & _CLEANSTACK and len(stack) != 1:
        raise ScriptError("CLEANSTACK")

    if flags & _WITNESS and not had_witness and witness:
        raise ScriptError("WITNESS_UNEXPECTED")


def verify_input(tx, index: int, spent_outputs, flags: int, *,
                 txdata: PrecomputedTxData | None = None, sigcache=None,
                 deferred: list | None = None) -> None:
    """Verify input `index` of `tx` against the output it spends.

    `spent_outputs` is the list of TxOut spent by each input of `tx`, in input order
    (only entry `index` is read unless `txdata` is built from it). `txdata` is this
    transaction's PrecomputedTxData: pass the same one for every input of a
    transaction to compute its shared signature-hash data once. `sigcache` is an
    optional SignatureCache. Raises ScriptError (Core's error name in `.code`).

    `deferred`, a list, asks for the ECDSA verification of a P2WPKH or P2PKH spend
    (whose signature result only decides pass or fail) to be appended to it as
    (pubkey, der_sig, sighash) instead of run here, so that a caller can run many on
    threads (libsecp256k1 releases the GIL). The input is then valid only if this
    returns and every appended triple verifies (coin.crypto.ecc.verify_signature); if
    one does not, verify the input again without `deferred` for its exact ScriptError.
    Deferred signatures are not added to `sigcache` (as Core's block validation).
    Other scripts are verified here in full, deferred or not.
    """
    if txdata is None:
        txdata = PrecomputedTxData(tx, spent_outputs)
    spent = spent_outputs[index]
    txin = tx.inputs[index]
    checker = TransactionSignatureChecker(txdata, index, spent.value, sigcache)
    script_sig = txin.script_sig
    script_pubkey = spent.script_pubkey
    witness = txin.witness
    flags = int(flags)
    if _verify_template(script_sig, script_pubkey, witness, flags, checker, deferred):
        return
    _verify_generic(script_sig, script_pubkey, witness, flags, checker)


def verify_transaction(tx, spent_outputs, flags: int, *, sigcache=None) -> None:
    """Verify every input of `tx` (see verify_input); raises the first ScriptError.

    The error carries `.input_index`, the index of the failing input.
    """
    txdata = PrecomputedTxData(tx, spent_outputs)
    for index in range(len(tx.inputs)):
        try:
            verify_input(tx, index, spent_outputs, flags, txdata=txdata, sigcache=sigcache)
        except ScriptError as exc:
            exc.input_index = index
            raise


# Core's BaseSignatureChecker, for evaluating scripts outside a transaction.
NO_CHECKER = _NoChecker()
__all__.append("NO_CHECKER")
