"""Opcodes: the 256-entry name table, Core's names as constants, and script iteration.

Every byte value has an entry in `OPCODE_NAMES` (Core's GetOpName spelling: `OP_0` is
printed "0" by ScriptToAsmStr but named OP_0 here; undefined values are `OP_UNKNOWN`,
0xff is `OP_INVALIDOPCODE`). The interpreter's handler table (value -> handler) lives in
coin.script.interpreter, next to the handlers; this module has no execution logic.

`iter_script(script)` mirrors Core's GetScriptOp: it yields `(opcode, data, pos)` for
each operation (data is the pushed bytes for push opcodes, else None; pos is the offset
just after the operation) and raises `ScriptError("BAD_OPCODE")` on a truncated push.

Script numbers (CScriptNum) are in coin.script.scriptnum and re-exported here.
"""

from coin.script.errors import ScriptError
from coin.script.scriptnum import ScriptNumError, cast_to_bool, decode_num, encode_num

__all__ = [
    "OPCODE_NAMES",
    "OPCODES_BY_NAME",
    "DISABLED_OPCODES",
    "MAX_SCRIPT_SIZE",
    "MAX_SCRIPT_ELEMENT_SIZE",
    "MAX_OPS_PER_SCRIPT",
    "MAX_STACK_SIZE",
    "MAX_PUBKEYS_PER_MULTISIG",
    "iter_script",
    "get_op",
    "decode_op_n",
    "encode_op_n",
    "ScriptNumError",
    "decode_num",
    "encode_num",
    "cast_to_bool",
]

MAX_SCRIPT_SIZE = 10000
MAX_SCRIPT_ELEMENT_SIZE = 520
MAX_OPS_PER_SCRIPT = 201
MAX_STACK_SIZE = 1000
MAX_PUBKEYS_PER_MULTISIG = 20

_NAMED = {
    0x00: "OP_0", 0x4C: "OP_PUSHDATA1", 0x4D: "OP_PUSHDATA2", 0x4E: "OP_PUSHDATA4",
    0x4F: "OP_1NEGATE", 0x50: "OP_RESERVED",
    0x61: "OP_NOP", 0x62: "OP_VER", 0x63: "OP_IF", 0x64: "OP_NOTIF", 0x65: "OP_VERIF",
    0x66: "OP_VERNOTIF", 0x67: "OP_ELSE", 0x68: "OP_ENDIF", 0x69: "OP_VERIFY", 0x6A: "OP_RETURN",
    0x6B: "OP_TOALTSTACK", 0x6C: "OP_FROMALTSTACK", 0x6D: "OP_2DROP", 0x6E: "OP_2DUP",
    0x6F: "OP_3DUP", 0x70: "OP_2OVER", 0x71: "OP_2ROT", 0x72: "OP_2SWAP", 0x73: "OP_IFDUP",
    0x74: "OP_DEPTH", 0x75: "OP_DROP", 0x76: "OP_DUP", 0x77: "OP_NIP", 0x78: "OP_OVER",
    0x79: "OP_PICK", 0x7A: "OP_ROLL", 0x7B: "OP_ROT", 0x7C: "OP_SWAP", 0x7D: "OP_TUCK",
    0x7E: "OP_CAT", 0x7F: "OP_SUBSTR", 0x80: "OP_LEFT", 0x81: "OP_RIGHT", 0x82: "OP_SIZE",
    0x83: "OP_INVERT", 0x84: "OP_AND", 0x85: "OP_OR", 0x86: "OP_XOR", 0x87: "OP_EQUAL",
    0x88: "OP_EQUALVERIFY", 0x89: "OP_RESERVED1", 0x8A: "OP_RESERVED2",
    0x8B: "OP_1ADD", 0x8C: "OP_1SUB", 0x8D: "OP_2MUL", 0x8E: "OP_2DIV", 0x8F: "OP_NEGATE",
    0x90: "OP_ABS", 0x91: "OP_NOT", 0x92: "OP_0NOTEQUAL", 0x93: "OP_ADD", 0x94: "OP_SUB",
    0x95: "OP_MUL", 0x96: "OP_DIV", 0x97: "OP_MOD", 0x98: "OP_LSHIFT", 0x99: "OP_RSHIFT",
    0x9A: "OP_BOOLAND", 0x9B: "OP_BOOLOR", 0x9C: "OP_NUMEQUAL", 0x9D: "OP_NUMEQUALVERIFY",
    0x9E: "OP_NUMNOTEQUAL", 0x9F: "OP_LESSTHAN", 0xA0: "OP_GREATERTHAN",
    0xA1: "OP_LESSTHANOREQUAL", 0xA2: "OP_GREATERTHANOREQUAL", 0xA3: "OP_MIN", 0xA4: "OP_MAX",
    0xA5: "OP_WITHIN", 0xA6: "OP_RIPEMD160", 0xA7: "OP_SHA1", 0xA8: "OP_SHA256",
    0xA9: "OP_HASH160", 0xAA: "OP_HASH256", 0xAB: "OP_CODESEPARATOR", 0xAC: "OP_CHECKSIG",
    0xAD: "OP_CHECKSIGVERIFY", 0xAE: "OP_CHECKMULTISIG", 0xAF: "OP_CHECKMULTISIGVERIFY",
    0xB0: "OP_NOP1", 0xB1: "OP_CHECKLOCKTIMEVERIFY", 0xB2: "OP_CHECKSEQUENCEVERIFY",
    0xB3: "OP_NOP4", 0xB4: "OP_NOP5", 0xB5: "OP_NOP6", 0xB6: "OP_NOP7", 0xB7: "OP_NOP8",
    0xB8: "OP_NOP9", 0xB9: "OP_NOP10", 0xBA: "OP_CHECKSIGADD", 0xFF: "OP_INVALIDOPCODE",
}


def _build_names() -> tuple[str, ...]:
    names = []
    for op in range(256):
        if op in _NAMED:
            names.append(_NAMED[op])
        elif 0x01 <= op <= 0x4B:
            names.append(f"OP_PUSHBYTES_{op}")  # Core prints these pushes by their data
        elif 0x51 <= op <= 0x60:
            names.append(f"OP_{op - 0x50}")
        else:
            names.append("OP_UNKNOWN")
    return tuple(names)


OPCODE_NAMES: tuple[str, ...] = _build_names()
"""value -> Core's opcode name, for all 256 byte values."""

OPCODES_BY_NAME: dict[str, int] = {
    name: op for op, name in enumerate(OPCODE_NAMES) if name != "OP_UNKNOWN"
}
OPCODES_BY_NAME.update({"OP_FALSE": 0x00, "OP_TRUE": 0x51, "OP_NOP2": 0xB1, "OP_NOP3": 0xB2})

# Module-level constants OP_0 ... OP_CHECKSIGADD, named as in Core.
for _name, _op in OPCODES_BY_NAME.items():
    if not _name.startswith("OP_PUSHBYTES_"):
        globals()[_name] = _op
        __all__.append(_name)
del _name, _op

# Disabled opcodes (CVE-2010-5137): fail even in an unexecuted branch.
DISABLED_OPCODES = frozenset(
    (0x7E, 0x7F, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x8D, 0x8E, 0x95, 0x96, 0x97, 0x98, 0x99)
)


def get_op(script: bytes, pos: int) -> tuple[int, bytes | None, int]:
    """Read one operation at `pos` (Core's GetScriptOp): (opcode, data, next_pos).

    Raises ScriptError("BAD_OPCODE") if the script ends inside a push.
    """
    op = script[pos]
    pos += 1
    if op > 0x4E:
        return op, None, pos
    end = len(script)
    if op < 0x4C:
        size = op
    elif op == 0x4C:
        if pos + 1 > end:
            raise ScriptError("BAD_OPCODE")
        size = script[pos]
        pos += 1
    elif op == 0x4D:
        if pos + 2 > end:
            raise ScriptError("BAD_OPCODE")
        size = script[pos] | (script[pos + 1] << 8)
        pos += 2
    else:
        if pos + 4 > end:
            raise ScriptError("BAD_OPCODE")
        size = int.from_bytes(script[pos:pos + 4], "little")
        pos += 4
    if end - pos < size:
        raise ScriptError("BAD_OPCODE")
    return op, script[pos:pos + size], pos + size


def iter_script(script: bytes):
    """Yield (opcode, data, pos_after) for each operation; raise ScriptError on truncation."""
    pos = 0
    end = len(script)
    while pos < end:
        op, data, pos = get_op(script, pos)
        yield op, data, pos


def decode_op_n(op: int) -> int:
    """OP_0 -> 0, OP_1..OP_16 -> 1..16 (Core's DecodeOP_N)."""
    if op == 0:
        return 0
    if not 0x51 <= op <= 0x60:
        raise ValueError(f"not a small-number opcode: {op:#x}")
    return op - 0x50


def encode_op_n(n: int) -> int:
    """0 -> OP_0, 1..16 -> OP_1..OP_16 (Core's EncodeOP_N)."""
    if n == 0:
        return 0
    if not 1 <= n <= 16:
        raise ValueError(f"not a small number: {n}")
    return 0x50 + n
