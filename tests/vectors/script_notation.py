"""Bitcoin Core's script test notation (core_read.cpp ParseScript), for the vector tests.

Words separated by whitespace:
- a decimal number (optionally negative) is a minimal number push (`CScript() << n`):
  -1 and 1..16 are OP_1NEGATE / OP_n, 0 is OP_0, others a push of the script number;
- `0x...` is raw bytes appended as they are (not pushed);
- `'text'` is a push of the text's bytes;
- an opcode name, with or without the `OP_` prefix (NOP2 / NOP3 are CLTV / CSV).

Kept independent of coin.script on purpose: it is how the tests build their inputs.
"""

import re

__all__ = ["parse_script", "OPCODES"]

_NAMES = {
    0x00: "0", 0x4C: "PUSHDATA1", 0x4D: "PUSHDATA2", 0x4E: "PUSHDATA4", 0x4F: "1NEGATE",
    0x50: "RESERVED", 0x61: "NOP", 0x62: "VER", 0x63: "IF", 0x64: "NOTIF", 0x65: "VERIF",
    0x66: "VERNOTIF", 0x67: "ELSE", 0x68: "ENDIF", 0x69: "VERIFY", 0x6A: "RETURN",
    0x6B: "TOALTSTACK", 0x6C: "FROMALTSTACK", 0x6D: "2DROP", 0x6E: "2DUP", 0x6F: "3DUP",
    0x70: "2OVER", 0x71: "2ROT", 0x72: "2SWAP", 0x73: "IFDUP", 0x74: "DEPTH", 0x75: "DROP",
    0x76: "DUP", 0x77: "NIP", 0x78: "OVER", 0x79: "PICK", 0x7A: "ROLL", 0x7B: "ROT",
    0x7C: "SWAP", 0x7D: "TUCK", 0x7E: "CAT", 0x7F: "SUBSTR", 0x80: "LEFT", 0x81: "RIGHT",
    0x82: "SIZE", 0x83: "INVERT", 0x84: "AND", 0x85: "OR", 0x86: "XOR", 0x87: "EQUAL",
    0x88: "EQUALVERIFY", 0x89: "RESERVED1", 0x8A: "RESERVED2", 0x8B: "1ADD", 0x8C: "1SUB",
    0x8D: "2MUL", 0x8E: "2DIV", 0x8F: "NEGATE", 0x90: "ABS", 0x91: "NOT", 0x92: "0NOTEQUAL",
    0x93: "ADD", 0x94: "SUB", 0x95: "MUL", 0x96: "DIV", 0x97: "MOD", 0x98: "LSHIFT",
    0x99: "RSHIFT", 0x9A: "BOOLAND", 0x9B: "BOOLOR", 0x9C: "NUMEQUAL", 0x9D: "NUMEQUALVERIFY",
    0x9E: "NUMNOTEQUAL", 0x9F: "LESSTHAN", 0xA0: "GREATERTHAN", 0xA1: "LESSTHANOREQUAL",
    0xA2: "GREATERTHANOREQUAL", 0xA3: "MIN", 0xA4: "MAX", 0xA5: "WITHIN", 0xA6: "RIPEMD160",
    0xA7: "SHA1", 0xA8: "SHA256", 0xA9: "HASH160", 0xAA: "HASH256", 0xAB: "CODESEPARATOR",
    0xAC: "CHECKSIG", 0xAD: "CHECKSIGVERIFY", 0xAE: "CHECKMULTISIG",
    0xAF: "CHECKMULTISIGVERIFY", 0xB0: "NOP1", 0xB1: "CHECKLOCKTIMEVERIFY",
    0xB2: "CHECKSEQUENCEVERIFY", 0xB3: "NOP4", 0xB4: "NOP5", 0xB5: "NOP6", 0xB6: "NOP7",
    0xB7: "NOP8", 0xB8: "NOP9", 0xB9: "NOP10", 0xBA: "CHECKSIGADD", 0xFF: "INVALIDOPCODE",
}
OPCODES = {name: op for op, name in _NAMES.items()}
OPCODES.update({f"{n}": 0x50 + n for n in range(1, 17)})
OPCODES.update({"FALSE": 0x00, "TRUE": 0x51, "NOP2": 0xB1, "NOP3": 0xB2})
OPCODES.update({"OP_" + name: op for name, op in list(OPCODES.items())})

_NUMBER = re.compile(r"^-?\d+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")


def _num_bytes(n: int) -> bytes:
    # CScriptNum::serialize, written out longhand.
    if n == 0:
        return b""
    neg = n < 0
    a = -n if neg else n
    out = []
    while a:
        out.append(a & 0xFF)
        a >>= 8
    if out[-1] & 0x80:
        out.append(0x80 if neg else 0x00)
    elif neg:
        out[-1] |= 0x80
    return bytes(out)


def _push(data: bytes) -> bytes:
    n = len(data)
    if n < 0x4C:
        return bytes([n]) + data
    if n <= 0xFF:
        return bytes([0x4C, n]) + data
    if n <= 0xFFFF:
        return bytes([0x4D]) + n.to_bytes(2, "little") + data
    return bytes([0x4E]) + n.to_bytes(4, "little") + data


def parse_script(text: str) -> bytes:
    """Assemble Core's script test notation into script bytes (ValueError if malformed)."""
    out = bytearray()
    for word in text.split():
        if _NUMBER.match(word):
            n = int(word)
            if not -0xFFFFFFFF <= n <= 0xFFFFFFFF:
                raise ValueError(f"number out of range: {word}")
            if n == -1 or 1 <= n <= 16:
                out.append(0x50 + n)
            elif n == 0:
                out.append(0x00)
            else:
                out += _push(_num_bytes(n))
        elif _HEX.match(word) and len(word) % 2 == 0:
            out += bytes.fromhex(word[2:])
        elif len(word) >= 2 and word[0] == "'" and word[-1] == "'":
            out += _push(word[1:-1].encode())
        elif word in OPCODES:
            out.append(OPCODES[word])
        else:
            raise ValueError(f"unknown word in script: {word!r}")
    return bytes(out)
