"""Bitcoin Core's tx_valid.json / tx_invalid.json, run as Core's transaction_tests.cpp does.

tx_valid: the flags listed are EXCLUDED; the transaction must verify with every other
flag, still verify with any one more flag removed, and fail once any single excluded
flag is added back (the listed set is minimal), flag combinations trimmed to
consistent ones as Core's TrimFlags does.
tx_invalid: the flags listed are applied and the transaction must fail; adding any
flag keeps it failing, and removing any one listed flag makes it pass (the set is
minimal). BADTX rows must fail the context-free checks (coin.consensus.tx_check).
Rows spending a witness v1 32-byte program (Taproot) are skipped: out of scope.
"""

import json

import pytest
from script_notation import parse_script

from coin.consensus.errors import Rejection
from coin.consensus.tx_check import check_transaction
from coin.primitives import OutPoint, Transaction, TxOut
from coin.script import Flags, ScriptError
from coin.script.flags import parse_flags
from coin.script.interpreter import verify_input
from coin.script.sighash import PrecomputedTxData

ALL_FLAGS = 0
for _f in Flags:
    ALL_FLAGS |= int(_f)
FLAG_LIST = [f for f in Flags if f.value]


def trim_flags(flags: int) -> int:
    """Core's TrimFlags: drop flags whose prerequisites are missing."""
    if not flags & Flags.P2SH:
        flags &= ~Flags.WITNESS
    if not flags & Flags.WITNESS:
        flags &= ~Flags.CLEANSTACK
    return int(flags)


def fill_flags(flags: int) -> int:
    """Core's FillFlags: add the flags the given ones imply."""
    if flags & Flags.CLEANSTACK:
        flags |= Flags.WITNESS
    if flags & Flags.WITNESS:
        flags |= Flags.P2SH
    return int(flags)


def exclude_individual_flags(flags: int) -> set[int]:
    """Core's ExcludeIndividualFlags."""
    combos = set()
    for f in FLAG_LIST:
        without = trim_flags(flags & ~f)
        if without != flags:
            combos.add(without)
    return combos


def _load(name):
    from paths import VECTORS

    rows = json.loads((VECTORS / name).read_text())
    params = []
    comment = ""
    for number, row in enumerate(rows):
        if not isinstance(row[0], list):
            comment = row[0]
            continue
        prevouts, tx_hex, flag_text = row
        taproot = any(_is_taproot(parse_script(p[2])) for p in prevouts)
        marks = (pytest.mark.skip(reason="Taproot spend: out of scope"),) if taproot else ()
        params.append(pytest.param(prevouts, tx_hex, flag_text,
                                   id=f"{name.split('.')[0]}[{number}]-{flag_text}", marks=marks))
    del comment
    return params


def _is_taproot(script: bytes) -> bool:
    return len(script) == 34 and script[0] == 0x51 and script[1] == 0x20


def _prepare(prevouts, tx_hex):
    tx = Transaction.from_bytes(bytes.fromhex(tx_hex))
    spent_by_outpoint = {}
    for p in prevouts:
        index = p[1] & 0xFFFFFFFF  # -1 is the null outpoint's 0xffffffff
        amount = p[3] if len(p) >= 4 else 0
        spent_by_outpoint[OutPoint(bytes.fromhex(p[0])[::-1], index)] = TxOut(amount, parse_script(p[2]))
    spent = [spent_by_outpoint[txin.prevout] for txin in tx.inputs]
    return tx, spent


def check_tx_scripts(tx, spent, flags: int) -> bool:
    """Core's CheckTxScripts: True if every input verifies under `flags`."""
    txdata = PrecomputedTxData(tx, spent)
    for i in range(len(tx.inputs)):
        try:
            verify_input(tx, i, spent, flags, txdata=txdata)
        except ScriptError:
            return False
    return True


VALID = _load("tx_valid.json")
INVALID = _load("tx_invalid.json")


def test_row_counts():
    assert len(VALID) == 121
    assert len(INVALID) == 93


@pytest.mark.parametrize("prevouts, tx_hex, flag_text", VALID)
def test_tx_valid(prevouts, tx_hex, flag_text):
    tx, spent = _prepare(prevouts, tx_hex)
    check_transaction(tx)  # must not raise
    excluded = int(parse_flags(flag_text))
    assert fill_flags(~excluded & ALL_FLAGS) == ~excluded & ALL_FLAGS, "bad test flags"
    assert check_tx_scripts(tx, spent, ~excluded & ALL_FLAGS), "valid transaction failed"
    # Removing any flag must not invalidate a valid transaction.
    for f in FLAG_LIST:
        flags = trim_flags(~(excluded | f) & ALL_FLAGS)
        assert check_tx_scripts(tx, spent, flags), f"fails with {f.name} unset"
    # The excluded set is minimal: adding back any one excluded flag makes it fail.
    for combo in exclude_individual_flags(excluded):
        assert not check_tx_scripts(tx, spent, ~combo & ALL_FLAGS), \
            f"still valid with flags {Flags(~combo & ALL_FLAGS)!r}"


@pytest.mark.parametrize("prevouts, tx_hex, flag_text", INVALID)
def test_tx_invalid(prevouts, tx_hex, flag_text):
    tx, spent = _prepare(prevouts, tx_hex)
    if flag_text == "BADTX":
        with pytest.raises(Rejection):
            check_transaction(tx)
        return
    check_transaction(tx)  # only BADTX rows fail the context-free checks
    flags = int(parse_flags(flag_text))
    assert fill_flags(flags) == flags, "bad test flags"
    assert not check_tx_scripts(tx, spent, flags), "invalid transaction passed"
    # Adding any flag must not validate an invalid transaction.
    for f in FLAG_LIST:
        assert not check_tx_scripts(tx, spent, fill_flags(flags | f)), f"passes with {f.name} set"
    # The set is minimal: removing any one flag makes it pass.
    for combo in exclude_individual_flags(flags):
        assert check_tx_scripts(tx, spent, combo), f"still invalid with {Flags(combo)!r}"
