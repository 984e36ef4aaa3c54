"""BIP-0032 hierarchical deterministic keys: master from seed, CKDpriv, CKDpub, paths.

An `ExtendedKey` is a private or public key with its chain code and its place in the
tree (depth, parent fingerprint, child number). It is immutable; deriving returns a new
key. Serialised form is Base58Check of the 78-byte BIP-0032 record, under a version
prefix: the network's own (xprv/xpub on main, tprv/tpub on test networks, from
`ChainParams`) or one of the SLIP-0132 prefixes wallets use to say which script type
an account key is for (yprv/ypub and uprv/upub for BIP-0049, zprv/zpub and vprv/vpub
for BIP-0084).

Parsing rejects, with a ValueError saying why, every invalid case of the BIP's test
vector 5: bad checksum, unknown version, version/key-type mismatch, a bad public key
prefix or a point not on the curve, a private key outside 1..n-1, depth 0 with a
non-zero parent fingerprint or child number.

Secrets stay out of repr() and str(): they show the depth, child number and
fingerprints only.
"""

import hashlib
import hmac
from dataclasses import dataclass, field

from coin.crypto.base58 import b58check_decode, b58check_encode
from coin.crypto.ecc import (
    SECP256K1_ORDER,
    is_valid_privkey,
    is_valid_pubkey,
    privkey_tweak_add,
    pubkey_from_privkey,
    pubkey_tweak_add,
)
from coin.crypto.hashes import hash160

__all__ = [
    "HARDENED",
    "KeyVersion",
    "KEY_VERSIONS",
    "ExtendedKey",
    "InvalidChildKey",
    "decode_extended_key",
    "format_path",
    "parse_path",
    "version_for",
]

HARDENED = 0x80000000


class InvalidChildKey(ValueError):
    """CKD produced IL >= n or a zero/infinite key (BIP-0032: skip to the next index)."""


@dataclass(frozen=True, slots=True)
class KeyVersion:
    """A 4-byte extended key prefix: network ("main"/"test"), private or public, script type."""

    prefix: bytes
    private: bool
    network: str
    script_type: str  # "p2pkh" (BIP-0044), "p2sh-p2wpkh" (BIP-0049), "p2wpkh" (BIP-0084)
    name: str


def _v(hex4: str, private: bool, network: str, script_type: str, name: str) -> KeyVersion:
    return KeyVersion(bytes.fromhex(hex4), private, network, script_type, name)


# BIP-0032 and SLIP-0132 single-signature prefixes.
KEY_VERSIONS: tuple[KeyVersion, ...] = (
    _v("0488ade4", True, "main", "p2pkh", "xprv"),
    _v("0488b21e", False, "main", "p2pkh", "xpub"),
    _v("049d7878", True, "main", "p2sh-p2wpkh", "yprv"),
    _v("049d7cb2", False, "main", "p2sh-p2wpkh", "ypub"),
    _v("04b2430c", True, "main", "p2wpkh", "zprv"),
    _v("04b24746", False, "main", "p2wpkh", "zpub"),
    _v("04358394", True, "test", "p2pkh", "tprv"),
    _v("043587cf", False, "test", "p2pkh", "tpub"),
    _v("044a4e28", True, "test", "p2sh-p2wpkh", "uprv"),
    _v("044a5262", False, "test", "p2sh-p2wpkh", "upub"),
    _v("045f18bc", True, "test", "p2wpkh", "vprv"),
    _v("045f1cf6", False, "test", "p2wpkh", "vpub"),
)
_BY_PREFIX = {v.prefix: v for v in KEY_VERSIONS}


def _network_of(params) -> str | None:
    for v in KEY_VERSIONS:
        if v.script_type == "p2pkh" and v.prefix == params.xprv_prefix:
            return v.network
    return None


def version_for(params, private: bool, script_type: str = "p2pkh") -> bytes:
    """The 4-byte prefix for `params`' network: its own xprv/xpub for "p2pkh", else SLIP-0132's.

    Raises ValueError for a script type SLIP-0132 has no prefix for on this network.
    """
    if script_type == "p2pkh":
        return params.xprv_prefix if private else params.xpub_prefix
    network = _network_of(params)
    for v in KEY_VERSIONS:
        if v.network == network and v.private == private and v.script_type == script_type:
            return v.prefix
    raise ValueError(f"no extended key prefix for {script_type} on network {params.name}")


def parse_path(path: str) -> tuple[int, ...]:
    """Parse "m/84'/1'/0'/0/5" (or "84h/1H/0'/0/5", relative) into child numbers.

    A hardened step is marked with ', h or H. Raises ValueError on an empty step, a
    non-decimal index, or an index of 2**31 or more.
    """
    if not isinstance(path, str):
        raise TypeError("path must be a str")
    text = path.strip()
    if text in ("m", ""):
        return ()
    parts = text.split("/")
    if parts[0] == "m":
        parts = parts[1:]
    out = []
    for part in parts:
        hardened = part[-1:] in ("'", "h", "H")
        digits = part[:-1] if hardened else part
        if not digits.isdigit() or not digits.isascii() or (len(digits) > 1 and digits[0] == "0"):
            raise ValueError(f"invalid derivation path step {part!r} in {path!r}")
        index = int(digits)
        if index >= HARDENED:
            raise ValueError(f"derivation index {index} out of range (must be < 2**31)")
        out.append(index | HARDENED if hardened else index)
    return tuple(out)


def format_path(indices, prefix: str = "m") -> str:
    """The inverse of parse_path: (0x80000054, 0) -> "m/84'/0"."""
    steps = [f"{i & ~HARDENED}'" if i & HARDENED else str(i) for i in indices]
    return "/".join([prefix, *steps]) if prefix else "/".join(steps)


def _is_valid_pubkey(key: bytes) -> bool:
    # BIP-0032 carries compressed SEC points only: 02/03 prefix, x on the curve.
    return len(key) == 33 and key[0] in (2, 3) and is_valid_pubkey(key)


@dataclass(frozen=True, slots=True, repr=False)
class ExtendedKey:
    """A BIP-0032 node. `key` is the 32-byte private key or the 33-byte compressed pubkey."""

    key: bytes
    chain_code: bytes
    depth: int = 0
    parent_fingerprint: bytes = b"\x00\x00\x00\x00"
    child_number: int = 0
    _public_key: bytes = field(default=b"", compare=False)

    def __post_init__(self) -> None:
        if len(self.chain_code) != 32:
            raise ValueError("chain code must be 32 bytes")
        if not 0 <= self.depth <= 255:
            raise ValueError("depth must be 0..255")
        if len(self.parent_fingerprint) != 4:
            raise ValueError("parent fingerprint must be 4 bytes")
        if not 0 <= self.child_number < 2**32:
            raise ValueError("child number must be 0..2**32-1")
        if len(self.key) == 32:
            if not is_valid_privkey(self.key):
                raise ValueError("private key not in 1..n-1")
            pub = pubkey_from_privkey(self.key, compressed=True)
        elif len(self.key) == 33:
            if not _is_valid_pubkey(self.key):
                raise ValueError("invalid public key (bad prefix or not on the curve)")
            pub = self.key
        else:
            raise ValueError("key must be a 32-byte private key or a 33-byte compressed public key")
        object.__setattr__(self, "_public_key", pub)

    # --- construction -------------------------------------------------------------

    @classmethod
    def from_seed(cls, seed: bytes) -> "ExtendedKey":
        """The master key: HMAC-SHA512("Bitcoin seed", seed); seed is 16..64 bytes.

        Raises ValueError for a seed of the wrong length, InvalidChildKey if IL is not
        a valid private key (probability below 2**-127).
        """
        if not 16 <= len(seed) <= 64:
            raise ValueError("seed must be 16 to 64 bytes")
        i = hmac.digest(b"Bitcoin seed", bytes(seed), hashlib.sha512)
        il, ir = i[:32], i[32:]
        if not is_valid_privkey(il):
            raise InvalidChildKey("seed gives an invalid master key")
        return cls(il, ir)

    @classmethod
    def from_string(cls, text: str, params=None) -> "ExtendedKey":
        """Parse an xprv/xpub-style string; see decode_extended_key for the checks."""
        return decode_extended_key(text, params)[0]

    # --- properties ---------------------------------------------------------------

    @property
    def is_private(self) -> bool:
        return len(self.key) == 32

    @property
    def private_key(self) -> bytes | None:
        """The 32-byte private key, or None for a public node."""
        return self.key if len(self.key) == 32 else None

    @property
    def public_key(self) -> bytes:
        """The 33-byte compressed public key."""
        return self._public_key

    @property
    def identifier(self) -> bytes:
        """HASH160 of the public key (BIP-0032 key identifier)."""
        return hash160(self._public_key)

    @property
    def fingerprint(self) -> bytes:
        """The first 4 bytes of the identifier."""
        return self.identifier[:4]

    def neuter(self) -> "ExtendedKey":
        """The public node (N() in BIP-0032)."""
        if not self.is_private:
            return self
        return ExtendedKey(
            self._public_key, self.chain_code, self.depth, self.parent_fingerprint,
            self.child_number,
        )

    # --- derivation ---------------------------------------------------------------

    def child(self, index: int) -> "ExtendedKey":
        """CKDpriv for a private node, CKDpub for a public one.

        Raises ValueError for a hardened index from a public node or an index out of
        0..2**32-1, or when the depth would pass 255; InvalidChildKey for the (2**-127)
        case of IL >= n or a zero/infinite result.
        """
        if not 0 <= index < 2**32:
            raise ValueError("child index must be 0..2**32-1")
        if self.depth == 255:
            raise ValueError("maximum derivation depth (255) reached")
        hardened = bool(index & HARDENED)
        if hardened:
            if not self.is_private:
                raise ValueError("cannot derive a hardened child from a public key")
            data = b"\x00" + self.key + index.to_bytes(4, "big")
        else:
            data = self._public_key + index.to_bytes(4, "big")
        i = hmac.digest(self.chain_code, data, hashlib.sha512)
        il, ir = i[:32], i[32:]
        if int.from_bytes(il, "big") >= SECP256K1_ORDER:
            raise InvalidChildKey(f"child {index}: IL >= n")
        try:
            if self.is_private:
                key = privkey_tweak_add(self.key, il)
            else:
                key = pubkey_tweak_add(self._public_key, il)
        except ValueError as exc:
            raise InvalidChildKey(f"child {index}: {exc}") from None
        return ExtendedKey(key, ir, self.depth + 1, self.fingerprint, index)

    def derive(self, path) -> "ExtendedKey":
        """Follow a path string ("m/84'/0'/0'") or a sequence of child numbers."""
        indices = parse_path(path) if isinstance(path, str) else tuple(path)
        node = self
        for index in indices:
            node = node.child(index)
        return node

    # --- serialisation ------------------------------------------------------------

    def to_bytes(self, version: bytes) -> bytes:
        """The 78-byte BIP-0032 record under the 4-byte `version`."""
        if len(version) != 4:
            raise ValueError("version must be 4 bytes")
        known = _BY_PREFIX.get(version)
        if known is not None and known.private != self.is_private:
            raise ValueError(f"{known.name} is a {'private' if known.private else 'public'} prefix")
        keydata = b"\x00" + self.key if self.is_private else self.key
        return (
            version + bytes([self.depth]) + self.parent_fingerprint
            + self.child_number.to_bytes(4, "big") + self.chain_code + keydata
        )

    def to_string(self, version: bytes) -> str:
        """Base58Check of to_bytes(version)."""
        return b58check_encode(self.to_bytes(version))

    def xprv(self, params, script_type: str = "p2pkh") -> str:
        """The private serialisation for `params`' network (tprv on test networks)."""
        if not self.is_private:
            raise ValueError("public node has no private serialisation")
        return self.to_string(version_for(params, True, script_type))

    def xpub(self, params, script_type: str = "p2pkh") -> str:
        """The public serialisation for `params`' network (tpub on test networks)."""
        return self.neuter().to_string(version_for(params, False, script_type))

    def __repr__(self) -> str:
        kind = "private" if self.is_private else "public"
        return (
            f"ExtendedKey({kind}, depth={self.depth}, child={format_path([self.child_number], '')}, "
            f"fingerprint={self.fingerprint.hex()}, parent={self.parent_fingerprint.hex()})"
        )

    __str__ = __repr__


def decode_extended_key(text: str, params=None) -> tuple[ExtendedKey, KeyVersion]:
    """Parse a serialised extended key and say which prefix it carried.

    With `params`, only prefixes of that network are accepted (its own and SLIP-0132's).
    Raises ValueError, with the reason, for: a bad Base58Check checksum or encoding, a
    length other than 78 bytes, an unknown version, a private version with public key
    data or the reverse, a public key prefix other than 02/03 or a point off the curve,
    a private key outside 1..n-1, depth 0 with a non-zero parent fingerprint or index.
    """
    try:
        raw = b58check_decode(text.strip())
    except ValueError as exc:
        raise ValueError(f"invalid extended key encoding: {exc}") from None
    if len(raw) != 78:
        raise ValueError(f"extended key must be 78 bytes, not {len(raw)}")
    version = _BY_PREFIX.get(raw[:4])
    if params is not None:
        own = {params.xprv_prefix: True, params.xpub_prefix: False}
        network = _network_of(params)
        if raw[:4] in own and version is None:
            version = KeyVersion(raw[:4], own[raw[:4]], params.name, "p2pkh", "own")
        elif version is not None and version.network != network:
            raise ValueError(f"extended key is for another network ({version.name})")
    if version is None:
        raise ValueError(f"unknown extended key version {raw[:4].hex()}")
    depth = raw[4]
    parent = raw[5:9]
    child_number = int.from_bytes(raw[9:13], "big")
    chain_code = raw[13:45]
    keydata = raw[45:78]
    if depth == 0 and parent != b"\x00\x00\x00\x00":
        raise ValueError("zero depth with non-zero parent fingerprint")
    if depth == 0 and child_number != 0:
        raise ValueError("zero depth with non-zero child index")
    if version.private:
        if keydata[0] != 0:
            raise ValueError("private key version with public key data (prefix must be 00)")
        key = keydata[1:]
        if not is_valid_privkey(key):
            raise ValueError("private key not in 1..n-1")
    else:
        if keydata[0] == 0:
            raise ValueError("public key version with private key data")
        if keydata[0] not in (2, 3):
            raise ValueError(f"invalid public key prefix {keydata[0]:02x}")
        if not _is_valid_pubkey(keydata):
            raise ValueError("invalid public key (not on the curve)")
        key = keydata
    return ExtendedKey(key, chain_code, depth, parent, child_number), version
