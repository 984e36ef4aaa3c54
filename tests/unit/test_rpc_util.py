"""coin.rpc.univalue / util / auth and coin-cli argument conversion."""

import base64
import json
import stat
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coin.cli.convert import convert_named, convert_positional
from coin.rpc.auth import RPCAuth, generate_cookie, hmac_password, read_cookie
from coin.rpc.errors import RPCError
from coin.rpc.univalue import RawNumber, dumps, loads
from coin.rpc.util import MAX_MONEY, amount_from_value, parse_hash_v, parse_hex_v, value_from_amount

# -- amounts ---------------------------------------------------------------------------

# Expected texts from Bitcoin Core's rpc_format_monetary_values test.
@pytest.mark.parametrize(
    "sats, text",
    [
        (0, "0.00000000"),
        (1, "0.00000001"),
        (17622195, "0.17622195"),
        (50000000, "0.50000000"),
        (89898989, "0.89898989"),
        (100000000, "1.00000000"),
        (2099999999999990, "20999999.99999990"),
        (2099999999999999, "20999999.99999999"),
        (-1, "-0.00000001"),
        (-MAX_MONEY, "-21000000.00000000"),
        (5000000000, "50.00000000"),
    ],
)
def test_value_from_amount_text(sats, text):
    assert dumps(value_from_amount(sats)) == text
    assert dumps({"value": value_from_amount(sats)}) == '{"value":' + text + "}"


@given(st.integers(min_value=-MAX_MONEY, max_value=MAX_MONEY))
def test_value_from_amount_matches_integer_formatting(sats):
    whole, frac = divmod(abs(sats), 100_000_000)
    oracle = ("-" if sats < 0 else "") + f"{whole}.{frac:08d}"
    assert dumps(value_from_amount(sats)) == oracle


@given(st.integers(min_value=0, max_value=MAX_MONEY))
def test_amount_round_trip_through_json_text(sats):
    text = dumps([value_from_amount(sats)])
    assert amount_from_value(loads(text)[0]) == sats
    assert amount_from_value(json.loads(text)[0]) == sats  # a float from another client


# Cases from Bitcoin Core's rpc_parse_monetary_values test.
@pytest.mark.parametrize(
    "text, sats",
    [
        ("0", 0),
        ("0.00000000", 0),
        ("0.00000001", 1),
        ("0.17622195", 17622195),
        ("0.5", 50000000),
        ("20999999.99999999", 2099999999999999),
        ("1e-8", 1),
        ("0.1e-7", 1),
        ("0.01e-6", 1),
        ("10000000000000000000000000000000000000000000000000000000000000000e-64", 100000000),
        ("0.00000001000000", 1),
        ("0.19e-6", 19),
    ],
)
def test_amount_from_value_valid(text, sats):
    assert amount_from_value(text) == sats
    assert amount_from_value(loads(text)) == sats


@pytest.mark.parametrize(
    "value, message",
    [
        ("-0.00000001", "Amount out of range"),
        ("21000000.00000001", "Amount out of range"),
        ("1e-9", "Invalid amount"),
        ("0.000000019", "Invalid amount"),
        ("19e-9", "Invalid amount"),
        (".19e-6", "Invalid amount"),
        ("92233720368.54775808", "Invalid amount"),
        ("1e+11", "Invalid amount"),
        ("93e+9", "Invalid amount"),
        (" 1", "Invalid amount"),
        ("abc", "Invalid amount"),
        (True, "Amount is not a number or string"),
        (None, "Amount is not a number or string"),
        ([1], "Amount is not a number or string"),
    ],
)
def test_amount_from_value_errors(value, message):
    with pytest.raises(RPCError) as e:
        amount_from_value(value)
    assert (e.value.code, e.value.message) == (-3, message)


# -- hashes and hex ---------------------------------------------------------------------

GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


def test_parse_hash_v_returns_internal_order():
    assert parse_hash_v(GENESIS, "blockhash") == bytes.fromhex(GENESIS)[::-1]
    assert parse_hash_v(GENESIS.upper(), "blockhash") == bytes.fromhex(GENESIS)[::-1]


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "blockhash must be of length 64 (not 3, for 'abc')"),
        ("z" * 64, "blockhash must be hexadecimal string (not '" + "z" * 64 + "')"),
        ("", "blockhash must be of length 64 (not 0, for '')"),
    ],
)
def test_parse_hash_v_errors(value, message):
    with pytest.raises(RPCError) as e:
        parse_hash_v(value, "blockhash")
    assert (e.value.code, e.value.message) == (-8, message)


def test_parse_hex_v():
    assert parse_hex_v("00ff", "hexstring") == b"\x00\xff"
    with pytest.raises(RPCError, match="hexstring must be hexadecimal string \\(not 'abc'\\)"):
        parse_hex_v("abc", "hexstring")


# -- JSON text -----------------------------------------------------------------------


def test_compact_matches_json_module_for_plain_values():
    value = {"a": [1, "x\n\"y\"", None, True, False, {"é": "ü"}], "b": {}, "c": []}
    assert dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_pretty_layout_is_univalue():
    assert dumps({"a": [], "b": {}, "c": [1, {"d": 2}]}, 2) == (
        '{\n  "a": [\n  ],\n  "b": {\n  },\n  "c": [\n    1,\n    {\n      "d": 2\n    }\n  ]\n}'
    )
    assert dumps([], 2) == "[\n]"


def test_doubles_use_16_significant_digits():
    assert dumps(4.656542373906925e-10) == "4.656542373906925e-10"
    assert dumps(1.0) == "1"
    assert dumps(0.1 + 0.2) == "0.3"


def test_raw_numbers_reprinted_verbatim():
    text = '{"difficulty":4.656542373906925e-10,"amount":50.00000000,"n":7}'
    parsed = loads(text, raw_numbers=True)
    assert isinstance(parsed["amount"], RawNumber)
    assert dumps(parsed) == text


def test_loads_rejects_nan_and_keeps_decimals():
    with pytest.raises(ValueError):
        loads("[NaN]")
    assert loads("[0.10]") == [Decimal("0.10")]


def test_del_is_escaped_like_univalue():
    assert dumps("a\x7fb") == '"a\\u007fb"'


# -- auth ----------------------------------------------------------------------------


def test_cookie_file(tmp_path):
    path = tmp_path / ".cookie"
    secret = generate_cookie(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_bytes().decode()
    assert text == secret and not text.endswith("\n")
    user, _, password = text.partition(":")
    assert user == "__cookie__" and len(password) == 64 and int(password, 16) >= 0
    assert read_cookie(path) == secret
    assert generate_cookie(path) != secret  # fresh each start


def _basic(user_pass: str) -> str:
    return "Basic " + base64.b64encode(user_pass.encode()).decode()


def test_auth_check():
    auth = RPCAuth()
    auth.add_password("alice", "secret")
    salt = "f7efda5c189b999524f151318c0c86"
    auth.add_rpcauth(f"bob:{salt}${hmac_password(salt, 'pw')}")
    assert auth.check(_basic("alice:secret")) == "alice"
    assert auth.check(_basic("bob:pw")) == "bob"
    assert auth.check(_basic("alice:wrong")) is None
    assert auth.check(_basic("alice")) is None
    assert auth.check("Bearer x") is None
    assert auth.check("Basic !!!") is None
    assert auth.check(None) is None


def test_rpcauth_format_errors():
    from coin.config import ConfigError

    with pytest.raises(ConfigError, match="Invalid -rpcauth argument."):
        RPCAuth().add_rpcauth("nouser")


# -- coin-cli argument conversion -------------------------------------------------------------


def test_convert_positional_follows_core_table():
    assert convert_positional("getblockhash", ["0"]) == [0]
    assert convert_positional("getblock", [GENESIS, "2"]) == [GENESIS, 2]
    assert convert_positional("help", ["5"]) == ["5"]  # help's argument is a string
    assert convert_positional("logging", ['["net"]']) == [["net"]]
    with pytest.raises(ValueError, match="Error parsing JSON: foo"):
        convert_positional("logging", ["foo"])


def test_convert_unknown_method_uses_json_if_it_parses():
    assert convert_positional("futuremethod", ["5", "abc", "true", '{"a":1}']) == [5, "abc", True, {"a": 1}]


def test_convert_named():
    assert convert_named("getblock", [f"blockhash={GENESIS}", "verbosity=2"]) == {"blockhash": GENESIS, "verbosity": 2}
    assert convert_named("getblock", ["verbosity=1", "verbosity=0"]) == {"verbosity": 0}
    assert convert_named("getblock", [GENESIS, "verbosity=0"]) == {"verbosity": 0, "args": [GENESIS]}


def test_converted_amount_keeps_its_text():
    (fee,) = convert_positional("sendrawtransaction", ["00", "0.10"])[1:]
    assert dumps(fee) == "0.10"
