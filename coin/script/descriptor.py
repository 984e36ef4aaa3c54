"""Output descriptors: BIP-0380 checksums and Core's InferDescriptor for a bare scriptPubKey.

`infer_descriptor(script_pubkey, params)` answers what Core prints as
`scriptPubKey.desc` in decoderawtransaction / getblock / gettxout, computed as
Core's InferDescriptor does with no signing provider:

- P2PK with a valid non-hybrid key: `pk(<hex>)`;
- bare multisig whose keys are all valid non-hybrid: `multi(k,<hex>,...)`;
- P2TR with an x-only key on the curve: `rawtr(<hex>)`;
- anything with an address (P2PKH, P2SH, segwit v0, other witness versions): `addr(<address>)`;
- everything else (OP_RETURN, non-standard, hybrid keys): `raw(<hex>)`;

each followed by `#` and its 8-character checksum (`descsum_create`).

`descriptor_to_script(desc, params)` parses the single-script descriptors the
generating RPCs accept: addr(), raw(), pk(), pkh(), wpkh(), sh(wpkh()) with hex keys;
a checksum, when present, must be right. Anything else raises InvalidDescriptor.
"""

from coin.crypto.address import InvalidAddress, address_to_script, script_to_address
from coin.crypto.hashes import hash160
from coin.script.standard import classify

__all__ = ["descsum_create", "descsum_check", "infer_descriptor", "descriptor_to_script",
           "InvalidDescriptor"]

_INPUT_CHARSET = ("0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
                  "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ")
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)
_SECP256K1_P = 2**256 - 2**32 - 977


def _polymod(symbols) -> int:
    chk = 1
    for value in symbols:
        top = chk >> 35
        chk = ((chk & 0x7FFFFFFFF) << 5) ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _expand(s: str) -> list[int]:
    groups: list[int] = []
    symbols: list[int] = []
    for c in s:
        v = _INPUT_CHARSET.find(c)
        if v < 0:
            raise ValueError(f"invalid character {c!r} in descriptor")
        symbols.append(v & 31)
        groups.append(v >> 5)
        if len(groups) == 3:
            symbols.append(groups[0] * 9 + groups[1] * 3 + groups[2])
            groups = []
    if len(groups) == 1:
        symbols.append(groups[0])
    elif len(groups) == 2:
        symbols.append(groups[0] * 3 + groups[1])
    return symbols


def descsum_create(desc: str) -> str:
    """`desc` with its BIP-0380 checksum appended (`desc#xxxxxxxx`)."""
    checksum = _polymod(_expand(desc) + [0] * 8) ^ 1
    return desc + "#" + "".join(_CHECKSUM_CHARSET[(checksum >> (5 * (7 - i))) & 31] for i in range(8))


def descsum_check(desc_with_checksum: str) -> bool:
    """True if the descriptor carries a valid checksum."""
    desc, sep, checksum = desc_with_checksum.rpartition("#")
    if not sep or len(checksum) != 8 or any(c not in _CHECKSUM_CHARSET for c in checksum):
        return False
    try:
        symbols = _expand(desc) + [_CHECKSUM_CHARSET.find(c) for c in checksum]
    except ValueError:
        return False
    return _polymod(symbols) == 1


def _valid_non_hybrid(pubkey: bytes) -> bool:
    # Core's CPubKey::IsValidNonHybrid: the size matches the prefix, and 02/03/04 only.
    if len(pubkey) == 33:
        return pubkey[0] in (2, 3)
    return len(pubkey) == 65 and pubkey[0] == 4


def _xonly_on_curve(x: bytes) -> bool:
    n = int.from_bytes(x, "big")
    if n >= _SECP256K1_P:
        return False
    rhs = (pow(n, 3, _SECP256K1_P) + 7) % _SECP256K1_P
    return rhs == 0 or pow(rhs, (_SECP256K1_P - 1) // 2, _SECP256K1_P) == 1


def infer_descriptor(script_pubkey: bytes, params) -> str:
    """Core's InferDescriptor(script, DUMMY_SIGNING_PROVIDER), with checksum."""
    kind, solutions = classify(script_pubkey)
    desc = None
    if kind == "pubkey" and _valid_non_hybrid(solutions[0]):
        desc = f"pk({solutions[0].hex()})"
    elif kind == "multisig":
        keys = solutions[1:-1]
        if all(_valid_non_hybrid(k) for k in keys):
            desc = f"multi({solutions[0][0]},{','.join(k.hex() for k in keys)})"
    elif kind == "witness_v1_taproot" and _xonly_on_curve(solutions[0]):
        desc = f"rawtr({solutions[0].hex()})"
    if desc is None:
        address = script_to_address(script_pubkey, params)
        desc = f"addr({address})" if address is not None else f"raw({script_pubkey.hex()})"
    return descsum_create(desc)


class InvalidDescriptor(ValueError):
    """A descriptor we cannot parse, or a wrong checksum."""


def _hex_key(text: str, compressed_only: bool) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise InvalidDescriptor(f"key '{text}' is not valid") from None
    if not _valid_non_hybrid(key) or (compressed_only and len(key) != 33):
        raise InvalidDescriptor(f"key '{text}' is not valid")
    return key


def _inner(desc: str, name: str) -> str | None:
    if desc.startswith(name + "(") and desc.endswith(")"):
        return desc[len(name) + 1:-1]
    return None


def descriptor_to_script(desc: str, params) -> bytes:
    """The scriptPubKey of a single-script descriptor (see the module doc)."""
    if "#" in desc:
        if not descsum_check(desc):
            raise InvalidDescriptor("Provided checksum does not match computed checksum")
        desc = desc.rpartition("#")[0]
    if (arg := _inner(desc, "addr")) is not None:
        try:
            return address_to_script(arg, params)
        except InvalidAddress as e:
            raise InvalidDescriptor(f"Address is not valid: {e}") from None
    if (arg := _inner(desc, "raw")) is not None:
        try:
            return bytes.fromhex(arg)
        except ValueError:
            raise InvalidDescriptor("Raw script is not hex") from None
    if (arg := _inner(desc, "pk")) is not None:
        key = _hex_key(arg, False)
        return bytes([len(key)]) + key + b"\xac"
    if (arg := _inner(desc, "pkh")) is not None:
        return b"\x76\xa9\x14" + hash160(_hex_key(arg, False)) + b"\x88\xac"
    if (arg := _inner(desc, "wpkh")) is not None:
        return b"\x00\x14" + hash160(_hex_key(arg, True))
    if (arg := _inner(desc, "sh")) is not None and (inner := _inner(arg, "wpkh")) is not None:
        redeem = b"\x00\x14" + hash160(_hex_key(inner, True))
        return b"\xa9\x14" + hash160(redeem) + b"\x87"
    raise InvalidDescriptor(f"'{desc}' is not a supported descriptor")
