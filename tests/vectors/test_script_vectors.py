"""Bitcoin Core's script_tests.json: every non-Taproot row, with the exact error name.

Each row is run as Core's script_tests.cpp does: a crediting transaction paying the
scriptPubKey, a spending transaction carrying the scriptSig and witness, then
VerifyScript of input 0 under the row's flags (see ../shared/vectors/README.md).
"""

import json

import pytest
from script_notation import parse_script

from coin.primitives import OutPoint, Transaction, TxIn, TxOut
from coin.script import Flags, ScriptError, verify_input
from coin.script.flags import parse_flags

VECTOR_FILE = "script_tests.json"


def _load_rows():
    from paths import VECTORS

    rows = json.loads((VECTORS / VECTOR_FILE).read_text())
    out = []
    for number, row in enumerate(rows):
        if len(row) < 4:
            continue  # a comment row
        out.append((number, row))
    return out


def _btc_to_sat(amount) -> int:
    return round(float(amount) * 100_000_000)


def _split(row):
    if isinstance(row[0], list):
        *witness_hex, amount = row[0]
        witness = tuple(witness_hex)  # hex; Taproot rows hold placeholders
        row = row[1:]
        amount = _btc_to_sat(amount)
    else:
        witness, amount = (), 0
    script_sig, script_pubkey, flags, expected = row[:4]
    return witness, amount, script_sig, script_pubkey, flags, expected


def build_crediting_tx(script_pubkey: bytes, amount: int) -> Transaction:
    """Core's BuildCreditingTransaction."""
    return Transaction(
        1,
        [TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF), b"\x00\x00", 0xFFFFFFFF)],
        [TxOut(amount, script_pubkey)],
        0,
    )


def build_spending_tx(script_sig: bytes, witness, credit: Transaction) -> Transaction:
    """Core's BuildSpendingTransaction."""
    return Transaction(
        1,
        [TxIn(OutPoint(credit.txid_bytes, 0), script_sig, 0xFFFFFFFF, tuple(witness))],
        [TxOut(credit.outputs[0].value, b"")],
        0,
    )


def _params():
    params = []
    for number, row in _load_rows():
        witness, amount, sig, pub, flags, expected = _split(row)
        rid = f"script_tests[{number}]-{flags or 'NONE'}-{expected}"
        marks = ()
        if "TAPROOT" in flags.split(","):
            marks = (pytest.mark.skip(reason="Taproot execution is out of scope"),)
        params.append(pytest.param(witness, amount, sig, pub, flags, expected, id=rid, marks=marks))
    return params


PARAMS = _params()


def test_row_count():
    runnable = [p for p in PARAMS if not p.marks]
    assert len(PARAMS) == 1222
    assert len(runnable) == 1217


@pytest.mark.parametrize("witness, amount, sig_text, pub_text, flag_text, expected", PARAMS)
def test_script_vector(witness, amount, sig_text, pub_text, flag_text, expected):
    script_sig = parse_script(sig_text)
    script_pubkey = parse_script(pub_text)
    flags = parse_flags(flag_text)
    witness = tuple(bytes.fromhex(w) for w in witness)
    credit = build_crediting_tx(script_pubkey, amount)
    spend = build_spending_tx(script_sig, witness, credit)
    try:
        verify_input(spend, 0, [credit.outputs[0]], flags)
    except ScriptError as exc:
        got = exc.code
    else:
        got = "OK"
    assert got == expected, f"{sig_text!r} / {pub_text!r} under {flag_text}"


def test_flags_are_ints():
    assert int(Flags.P2SH) == 1 and int(Flags.WITNESS) == 1 << 11
