"""Standard script templates (Core's Solver), ASM rendering and script building.

- `classify(script_pubkey) -> (type_name, solutions)`: Core's Solver with Core's type
  names (`nonstandard`, `pubkey`, `pubkeyhash`, `scripthash`, `multisig`, `nulldata`,
  `witness_v0_keyhash`, `witness_v0_scripthash`, `witness_v1_taproot`,
  `witness_unknown`, `anchor`) and the same solutions (multisig: [m, keys..., n] with
  m and n as one-byte values).
- `script_to_asm(script, attempt_sighash_decode=False)`: Core's ScriptToAsmStr.
- predicates: `is_push_only`, `is_witness_program`, `is_p2sh`, `is_unspendable`.
- building: `build_script([...])` where ints are minimal number pushes (Core's
  `CScript() << n`), bytes are data pushes and `Op(x)` an opcode; `push_int`,
  `push_data`.

Nothing here raises on malformed scripts: they classify as `nonstandard` and render
with `[error]` where parsing stops, as in Core.
"""

from coin.script.errors import ScriptError
from coin.script.interpreter import (
    check_minimal_push,
    check_signature_encoding,
    is_push_only,
    push_data,
    witness_program,
)
from coin.script.opcodes import MAX_PUBKEYS_PER_MULTISIG, MAX_SCRIPT_SIZE, OPCODE_NAMES, get_op
from coin.script.scriptnum import ScriptNumError, decode_num, encode_num

__all__ = [
    "TX_NONSTANDARD",
    "TX_PUBKEY",
    "TX_PUBKEYHASH",
    "TX_SCRIPTHASH",
    "TX_MULTISIG",
    "TX_NULL_DATA",
    "TX_WITNESS_V0_KEYHASH",
    "TX_WITNESS_V0_SCRIPTHASH",
    "TX_WITNESS_V1_TAPROOT",
    "TX_WITNESS_UNKNOWN",
    "TX_ANCHOR",
    "Op",
    "classify",
    "script_to_asm",
    "get_op_name",
    "is_push_only",
    "is_witness_program",
    "is_p2sh",
    "is_pay_to_anchor",
    "is_unspendable",
    "build_script",
    "push_int",
    "push_data",
]

TX_NONSTANDARD = "nonstandard"
TX_PUBKEY = "pubkey"
TX_PUBKEYHASH = "pubkeyhash"
TX_SCRIPTHASH = "scripthash"
TX_MULTISIG = "multisig"
TX_NULL_DATA = "nulldata"
TX_WITNESS_V0_KEYHASH = "witness_v0_keyhash"
TX_WITNESS_V0_SCRIPTHASH = "witness_v0_scripthash"
TX_WITNESS_V1_TAPROOT = "witness_v1_taproot"
TX_WITNESS_UNKNOWN = "witness_unknown"
TX_ANCHOR = "anchor"

_PUBKEY_LEN = {2: 33, 3: 33, 4: 65, 6: 65, 7: 65}
_SIGHASH_NAMES = {
    0x01: "ALL", 0x81: "ALL|ANYONECANPAY", 0x02: "NONE", 0x82: "NONE|ANYONECANPAY",
    0x03: "SINGLE", 0x83: "SINGLE|ANYONECANPAY",
}


class Op(int):
    """An opcode inside `build_script` (a plain int there means a number push)."""

    __slots__ = ()


def is_p2sh(script: bytes) -> bool:
    """OP_HASH160 <20 bytes> OP_EQUAL (Core's IsPayToScriptHash)."""
    return len(script) == 23 and script[0] == 0xA9 and script[1] == 0x14 and script[22] == 0x87


def is_witness_program(script: bytes) -> tuple[int, bytes] | None:
    """(version, program) if `script` is a witness program (Core's IsWitnessProgram)."""
    return witness_program(script)


def is_pay_to_anchor(script: bytes) -> bool:
    """OP_1 <0x4e73> (Core's IsPayToAnchor)."""
    return script == b"\x51\x02\x4e\x73"


def is_unspendable(script: bytes) -> bool:
    """Starts with OP_RETURN or is longer than MAX_SCRIPT_SIZE (Core's IsUnspendable)."""
    return (len(script) > 0 and script[0] == 0x6A) or len(script) > MAX_SCRIPT_SIZE


def _valid_pubkey_size(data: bytes | None) -> bool:
    return bool(data) and _PUBKEY_LEN.get(data[0]) == len(data)


def _script_number(op: int, data: bytes | None, lo: int, hi: int) -> int | None:
    """Core's GetScriptNumber: OP_n or a minimal push of a number in [lo, hi]."""
    if 0x51 <= op <= 0x60:
        n = op - 0x50
    elif op <= 0x4E:
        if not check_minimal_push(data, op):
            return None
        try:
            n = decode_num(data, True)
        except ScriptNumError:
            return None
    else:
        return None
    return n if lo <= n <= hi else None


def _match_multisig(script: bytes):
    if not script or script[-1] != 0xAE:
        return None
    try:
        op, data, pos = get_op(script, 0)
        required = _script_number(op, data, 1, MAX_PUBKEYS_PER_MULTISIG)
        if required is None:
            return None
        keys = []
        end = len(script)
        while True:
            if pos >= end:
                return None
            op, data, pos = get_op(script, pos)
            if not _valid_pubkey_size(data):
                break
            keys.append(data)
    except ScriptError:
        return None
    count = _script_number(op, data, required, MAX_PUBKEYS_PER_MULTISIG)
    if count is None or len(keys) != count:
        return None
    if pos + 1 != len(script):
        return None
    return required, keys


def classify(script_pubkey: bytes) -> tuple[str, list[bytes]]:
    """Core's Solver: the template `script_pubkey` matches, and its parameters."""
    s = script_pubkey
    if is_p2sh(s):
        return TX_SCRIPTHASH, [s[2:22]]
    wp = witness_program(s)
    if wp is not None:
        version, program = wp
        if version == 0 and len(program) == 20:
            return TX_WITNESS_V0_KEYHASH, [program]
        if version == 0 and len(program) == 32:
            return TX_WITNESS_V0_SCRIPTHASH, [program]
        if version == 1 and len(program) == 32:
            return TX_WITNESS_V1_TAPROOT, [program]
        if is_pay_to_anchor(s):
            return TX_ANCHOR, []
        if version != 0:
            return TX_WITNESS_UNKNOWN, [bytes((version,)), program]
        return TX_NONSTANDARD, []
    if s and s[0] == 0x6A and is_push_only(s[1:]):
        return TX_NULL_DATA, []
    n = len(s)
    if n == 67 and s[0] == 65 and s[-1] == 0xAC and _valid_pubkey_size(s[1:66]):
        return TX_PUBKEY, [s[1:66]]
    if n == 35 and s[0] == 33 and s[-1] == 0xAC and _valid_pubkey_size(s[1:34]):
        return TX_PUBKEY, [s[1:34]]
    if (n == 25 and s[0] == 0x76 and s[1] == 0xA9 and s[2] == 20 and s[23] == 0x88
            and s[24] == 0xAC):
        return TX_PUBKEYHASH, [s[3:23]]
    ms = _match_multisig(s)
    if ms is not None:
        required, keys = ms
        return TX_MULTISIG, [bytes((required,)), *keys, bytes((len(keys),))]
    return TX_NONSTANDARD, []


def get_op_name(op: int) -> str:
    """Core's GetOpName: "0", "-1", "1".."16" for small numbers, else OP_ names."""
    if op == 0:
        return "0"
    if op == 0x4F:
        return "-1"
    if 0x51 <= op <= 0x60:
        return str(op - 0x50)
    name = OPCODE_NAMES[op]
    if name.startswith("OP_PUSHBYTES_"):
        return "OP_UNKNOWN"
    return name


def _is_sig_encoding_strict(data: bytes) -> bool:
    # Core's CheckSignatureEncoding(vch, SCRIPT_VERIFY_STRICTENC): DER shape + defined hash type.
    try:
        check_signature_encoding(data, 0x02)
    except ScriptError:
        return False
    return True


def script_to_asm(script: bytes, attempt_sighash_decode: bool = False) -> str:
    """Core's ScriptToAsmStr: pushes of up to 4 bytes as numbers, longer ones as hex.

    With `attempt_sighash_decode` (scriptSigs), a push that is a strictly encoded
    signature with a defined hash type prints as `<hex without the last byte>[ALL]`.
    A truncated push ends the text with `[error]`.
    """
    parts = []
    pos = 0
    end = len(script)
    unspendable = is_unspendable(script)
    while pos < end:
        try:
            op, data, pos = get_op(script, pos)
        except ScriptError:
            parts.append("[error]")
            break
        if op <= 0x4E:
            if len(data) <= 4:
                parts.append(str(decode_num(data, False, 4)))
            elif attempt_sighash_decode and not unspendable:
                suffix = ""
                if _is_sig_encoding_strict(data):
                    name = _SIGHASH_NAMES.get(data[-1])
                    if name is not None:
                        suffix = f"[{name}]"
                        data = data[:-1]
                parts.append(data.hex() + suffix)
            else:
                parts.append(data.hex())
        else:
            parts.append(get_op_name(op))
    return " ".join(parts)


def push_int(n: int) -> bytes:
    """`CScript() << n`: OP_0, OP_1NEGATE, OP_1..OP_16, or a push of the script number."""
    if n == 0:
        return b"\x00"
    if n == -1 or 1 <= n <= 16:
        return bytes((0x50 + n,))
    return push_data(encode_num(n))


def build_script(items) -> bytes:
    """Assemble a script: `Op` values are opcodes, ints minimal number pushes, bytes pushes.

    Example: build_script([Op(OP_DUP), Op(OP_HASH160), h160, Op(OP_EQUALVERIFY),
    Op(OP_CHECKSIG)]). Raises TypeError on anything else.
    """
    out = []
    for item in items:
        if isinstance(item, Op):
            out.append(bytes((int(item),)))
        elif isinstance(item, bool):
            raise TypeError("use Op(OP_TRUE)/Op(OP_FALSE) or 1/0, not a bool")
        elif isinstance(item, int):
            out.append(push_int(item))
        elif isinstance(item, (bytes, bytearray)):
            out.append(push_data(bytes(item)))
        else:
            raise TypeError(f"cannot put {type(item).__name__} in a script")
    return b"".join(out)
