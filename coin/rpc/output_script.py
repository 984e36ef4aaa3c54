"""The ``util`` RPCs about addresses and scripts (Core's rpc/output_script.cpp): validateaddress.

validateaddress never fails for bad input: it answers `isvalid: false` with Core's
DecodeDestination error text. Bech32 error *locations* (Core's LocateErrors, which
uses error correction to point at the bad characters) are not computed: the list is
empty and the message is `Invalid Bech32 checksum` or the string-level fault.
"""

from __future__ import annotations

from typing import Any

from coin.crypto.address import address_to_script, script_to_address
from coin.crypto.base58 import b58check_decode, b58decode
from coin.crypto.bech32 import Encoding, bech32_decode, convertbits
from coin.rpc.table import Param, RPCContext, rpc_method
from coin.rpc.util import help_example_cli

__all__ = ["validateaddress", "decode_destination_error"]


def _base58_error(address: str, params) -> str:
    try:
        payload = b58check_decode(address)
    except ValueError:
        try:
            b58decode(address)
        except ValueError:
            return "Invalid or unsupported Segwit (Bech32) or Base58 encoding."
        return "Invalid checksum or length of Base58 address (P2PKH or P2SH)"
    if payload and payload[0] in (params.base58_pubkey_prefix, params.base58_script_prefix):
        return "Invalid length for Base58 address (P2PKH or P2SH)"
    return "Invalid or unsupported Base58-encoded address."


def _bech32_error(address: str, params) -> str:
    try:
        hrp, data, encoding = bech32_decode(address)
    except ValueError as e:
        text = str(e)
        if "mixed case" in text or "character" in text:
            return "Invalid character or mixed case"
        if "length" in text:
            return "Bech32 string too long"
        return "Invalid Bech32 checksum"
    if not data:
        return "Empty Bech32 data section"
    if hrp != params.bech32_hrp:
        return (f"Invalid or unsupported prefix for Segwit (Bech32) address (expected {params.bech32_hrp}, "
                f"got {hrp}).")
    version = data[0]
    if version == 0 and encoding is not Encoding.BECH32:
        return "Version 0 witness address must use Bech32 checksum"
    if version != 0 and encoding is not Encoding.BECH32M:
        return "Version 1+ witness address must use Bech32m checksum"
    try:
        program = bytes(convertbits(data[1:], 5, 8, False))
    except ValueError:
        return "Invalid padding in Bech32 data section"
    unit = "byte" if len(program) == 1 else "bytes"
    if version == 0:
        return f"Invalid Bech32 v0 address program size ({len(program)} {unit}), per BIP141"
    if version > 16:
        return "Invalid Bech32 address witness version"
    return f"Invalid Bech32 address program size ({len(program)} {unit})"


def decode_destination_error(address: str, params) -> str:
    """Core's DecodeDestination error text for an address that does not decode."""
    if address[: len(params.bech32_hrp)].lower() == params.bech32_hrp:
        return _bech32_error(address, params)
    return _base58_error(address, params)


def _describe(script: bytes) -> dict[str, Any]:
    """Core's DescribeAddress for the destination behind `script`."""
    if len(script) == 25 and script[0] == 0x76:
        return {"isscript": False, "iswitness": False}
    if len(script) == 23 and script[0] == 0xA9:
        return {"isscript": True, "iswitness": False}
    version = 0 if script[0] == 0 else script[0] - 0x50
    program = script[2:]
    if version == 0:
        return {"isscript": len(program) == 32, "iswitness": True, "witness_version": 0,
                "witness_program": program.hex()}
    if version == 1 and (len(program) == 32 or program == bytes.fromhex("4e73")):
        return {"isscript": True, "iswitness": True, "witness_version": 1, "witness_program": program.hex()}
    return {"iswitness": True, "witness_version": version, "witness_program": program.hex()}


@rpc_method(
    "validateaddress",
    "util",
    params=[Param("address", "str", "The bitcoin address to validate")],
    help="Return information about the given bitcoin address.",
    result='{ "isvalid", "address", "scriptPubKey", "isscript", "iswitness", "witness_version", '
           '"witness_program", "error", "error_locations" }',
    examples=help_example_cli("validateaddress", '"bcrt1q09vm5lfy0j5reeulh4x5752q25uqqvz34hufdl"'),
)
def validateaddress(ctx: RPCContext, address: str) -> dict[str, Any]:
    params = ctx.node.params
    try:
        script = address_to_script(address, params)
    except ValueError:
        return {"isvalid": False, "error_locations": [], "error": decode_destination_error(address, params)}
    return {"isvalid": True, "address": script_to_address(script, params), "scriptPubKey": script.hex(),
            **_describe(script)}
