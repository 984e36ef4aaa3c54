"""Addresses <-> output scripts (scriptPubKey), as Core's key_io.cpp and Solver see them.

Base58Check: P2PKH (``params.base58_pubkey_prefix`` + HASH160) and P2SH
(``params.base58_script_prefix`` + HASH160). Segwit (``params.bech32_hrp``): P2WPKH
and P2WSH (version 0, Bech32, BIP-0173), P2TR (version 1, 32 bytes) and every other
witness version 1..16 with a 2..40-byte program (Bech32m, BIP-0350). The network is
always passed in: anything with those attributes (a ChainParams) will do.

Error contract: ``address_to_script`` raises ``InvalidAddress`` (a ValueError) for a
string that is not an address of that network. ``script_to_address`` returns None for
a script that has no address (P2PK, multisig, OP_RETURN, witness v0 programs of other
lengths, nonstandard), as Core omits ``address`` for them.
"""

from coin.crypto import bech32
from coin.crypto.base58 import b58check_decode, b58check_encode

__all__ = [
    "InvalidAddress",
    "address_to_script",
    "script_to_address",
    "p2pkh_script",
    "p2sh_script",
    "p2wpkh_script",
    "p2wsh_script",
    "p2tr_script",
    "witness_program_script",
    "parse_witness_program",
]

_OP_0 = 0x00
_OP_1 = 0x51
_OP_16 = 0x60
_OP_DUP = 0x76
_OP_HASH160 = 0xA9
_OP_EQUAL = 0x87
_OP_EQUALVERIFY = 0x88
_OP_CHECKSIG = 0xAC


class InvalidAddress(ValueError):
    """The string is not a valid address for the given network."""


def _need(b: bytes, n: int, what: str) -> bytes:
    if len(b) != n:
        raise ValueError(f"{what} must be {n} bytes")
    return bytes(b)


def p2pkh_script(hash160: bytes) -> bytes:
    """OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG."""
    return bytes([_OP_DUP, _OP_HASH160, 20]) + _need(hash160, 20, "hash160") + bytes([_OP_EQUALVERIFY, _OP_CHECKSIG])


def p2sh_script(hash160: bytes) -> bytes:
    """OP_HASH160 <20> OP_EQUAL (BIP-0016)."""
    return bytes([_OP_HASH160, 20]) + _need(hash160, 20, "hash160") + bytes([_OP_EQUAL])


def p2wpkh_script(hash160: bytes) -> bytes:
    """OP_0 <20> (BIP-0141)."""
    return bytes([_OP_0, 20]) + _need(hash160, 20, "hash160")


def p2wsh_script(sha256: bytes) -> bytes:
    """OP_0 <32> (BIP-0141)."""
    return bytes([_OP_0, 32]) + _need(sha256, 32, "sha256")


def p2tr_script(xonly32: bytes) -> bytes:
    """OP_1 <32> (BIP-0341)."""
    return bytes([_OP_1, 32]) + _need(xonly32, 32, "x-only key")


def witness_program_script(witver: int, witprog: bytes) -> bytes:
    """OP_n <program> for version 0..16 and a 2..40-byte program; ValueError otherwise."""
    if not 0 <= witver <= 16:
        raise ValueError("invalid witness version")
    if not 2 <= len(witprog) <= 40:
        raise ValueError("invalid witness program length")
    op = _OP_0 if witver == 0 else _OP_1 + witver - 1
    return bytes([op, len(witprog)]) + bytes(witprog)


def parse_witness_program(script_pubkey: bytes) -> tuple[int, bytes] | None:
    """(version, program) if the script is a witness program (Core's
    CScript::IsWitnessProgram: OP_0..OP_16 then one direct push of 2..40 bytes)."""
    n = len(script_pubkey)
    if n < 4 or n > 42:
        return None
    op = script_pubkey[0]
    if op != _OP_0 and not _OP_1 <= op <= _OP_16:
        return None
    if script_pubkey[1] + 2 != n:
        return None
    return (0 if op == _OP_0 else op - _OP_1 + 1), bytes(script_pubkey[2:])


def address_to_script(address: str, params) -> bytes:
    """The scriptPubKey an address pays to, on the network ``params``.

    Raises InvalidAddress for anything else: bad characters or checksum, a Base58
    prefix or length of another network or kind, a Bech32 HRP of another network, or
    any segwit decoding failure (see coin.crypto.bech32).
    """
    if not isinstance(address, str) or len(address) > 100:
        raise InvalidAddress("invalid address")
    hrp = params.bech32_hrp
    if address[: len(hrp)].lower() != hrp.lower():
        try:
            payload = b58check_decode(address)
        except ValueError:
            payload = None
        if payload is not None:
            if len(payload) == 21:
                if payload[0] == params.base58_pubkey_prefix:
                    return p2pkh_script(payload[1:])
                if payload[0] == params.base58_script_prefix:
                    return p2sh_script(payload[1:])
            raise InvalidAddress("invalid base58 address: wrong prefix or length for this network")
    try:
        witver, prog = bech32.decode(hrp, address)
    except ValueError as e:
        raise InvalidAddress(f"invalid address: {e}") from e
    return witness_program_script(witver, prog)


def script_to_address(script_pubkey: bytes, params) -> str | None:
    """The address of a scriptPubKey on the network ``params``, or None if it has none."""
    s = script_pubkey
    n = len(s)
    if (n == 25 and s[0] == _OP_DUP and s[1] == _OP_HASH160 and s[2] == 20
            and s[23] == _OP_EQUALVERIFY and s[24] == _OP_CHECKSIG):
        return b58check_encode(bytes([params.base58_pubkey_prefix]) + s[3:23])
    if n == 23 and s[0] == _OP_HASH160 and s[1] == 20 and s[22] == _OP_EQUAL:
        return b58check_encode(bytes([params.base58_script_prefix]) + s[2:22])
    wp = parse_witness_program(s)
    if wp is None:
        return None
    witver, prog = wp
    if witver == 0 and len(prog) not in (20, 32):
        return None
    return bech32.encode(params.bech32_hrp, witver, prog)
