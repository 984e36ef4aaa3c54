"""Script verification flags: Bitcoin Core's SCRIPT_VERIFY_* as an IntFlag, same bit values.

`MANDATORY_SCRIPT_VERIFY_FLAGS` and `STANDARD_SCRIPT_VERIFY_FLAGS` are defined here once,
as Core's policy/policy.h does (less TAPROOT: Taproot is not part of this chain's rules
yet, so witness v1 programs stay anyone-can-spend by consensus and non-standard by
policy through DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM).
"""

import enum

__all__ = [
    "Flags",
    "MANDATORY_SCRIPT_VERIFY_FLAGS",
    "STANDARD_SCRIPT_VERIFY_FLAGS",
    "STANDARD_NOT_MANDATORY_VERIFY_FLAGS",
    "parse_flags",
    "format_flags",
]


class Flags(enum.IntFlag):
    """Core's script verification flags (script/interpreter.h), bit for bit."""

    NONE = 0
    P2SH = 1 << 0
    STRICTENC = 1 << 1
    DERSIG = 1 << 2
    LOW_S = 1 << 3
    NULLDUMMY = 1 << 4
    SIGPUSHONLY = 1 << 5
    MINIMALDATA = 1 << 6
    DISCOURAGE_UPGRADABLE_NOPS = 1 << 7
    CLEANSTACK = 1 << 8
    CHECKLOCKTIMEVERIFY = 1 << 9
    CHECKSEQUENCEVERIFY = 1 << 10
    WITNESS = 1 << 11
    DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = 1 << 12
    MINIMALIF = 1 << 13
    NULLFAIL = 1 << 14
    WITNESS_PUBKEYTYPE = 1 << 15
    CONST_SCRIPTCODE = 1 << 16
    TAPROOT = 1 << 17
    DISCOURAGE_UPGRADABLE_TAPROOT_VERSION = 1 << 18
    DISCOURAGE_OP_SUCCESS = 1 << 19
    DISCOURAGE_UPGRADABLE_PUBKEYTYPE = 1 << 20


# Consensus rules every block must follow once all soft forks up to SegWit are active
# (Core's MANDATORY_SCRIPT_VERIFY_FLAGS without TAPROOT).
MANDATORY_SCRIPT_VERIFY_FLAGS = (
    Flags.P2SH
    | Flags.DERSIG
    | Flags.NULLDUMMY
    | Flags.CHECKLOCKTIMEVERIFY
    | Flags.CHECKSEQUENCEVERIFY
    | Flags.WITNESS
)

# Policy: what the mempool enforces on top (Core's STANDARD_SCRIPT_VERIFY_FLAGS).
STANDARD_SCRIPT_VERIFY_FLAGS = (
    MANDATORY_SCRIPT_VERIFY_FLAGS
    | Flags.STRICTENC
    | Flags.MINIMALDATA
    | Flags.DISCOURAGE_UPGRADABLE_NOPS
    | Flags.CLEANSTACK
    | Flags.MINIMALIF
    | Flags.NULLFAIL
    | Flags.LOW_S
    | Flags.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM
    | Flags.WITNESS_PUBKEYTYPE
    | Flags.CONST_SCRIPTCODE
    | Flags.DISCOURAGE_UPGRADABLE_TAPROOT_VERSION
    | Flags.DISCOURAGE_OP_SUCCESS
    | Flags.DISCOURAGE_UPGRADABLE_PUBKEYTYPE
)

STANDARD_NOT_MANDATORY_VERIFY_FLAGS = STANDARD_SCRIPT_VERIFY_FLAGS & ~MANDATORY_SCRIPT_VERIFY_FLAGS


def parse_flags(text: str) -> Flags:
    """Parse Core's comma-separated flag names ("P2SH,STRICTENC"; "" or "NONE" is no flag).

    Raises ValueError on an unknown name.
    """
    result = Flags.NONE
    for name in text.split(","):
        name = name.strip()
        if not name or name == "NONE":
            continue
        try:
            result |= Flags[name]
        except KeyError:
            raise ValueError(f"unknown script verify flag {name!r}") from None
    return result


def format_flags(flags: int) -> str:
    """The inverse of parse_flags: names in bit order, comma-separated ("" for none)."""
    return ",".join(f.name for f in Flags if f.value and flags & f.value)
