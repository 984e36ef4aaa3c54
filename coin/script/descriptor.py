"""Output descriptors (BIP-0380..0386, as Bitcoin Core parses and infers them).

Checksums: `descsum_create(desc)` appends BIP-0380's 8-character checksum,
`descsum_check(desc#checksum)` verifies one.

Inference (Core's InferDescriptor): `infer_descriptor(script_pubkey, params,
provider=None)` is what Core prints as `scriptPubKey.desc` (decoderawtransaction,
getblock, gettxout: no provider) and as scantxoutset's `desc` (the provider filled
while expanding the scanned descriptors, so known keys print with their origin,
`pkh([fingerprint/path]key)`):

- P2PK with a valid non-hybrid key: `pk(KEY)`; P2PKH / P2WPKH whose key the provider
  knows: `pkh(KEY)` / `wpkh(KEY)`; bare multisig: `multi(k,KEY,...)`;
- P2SH / P2WSH whose script the provider knows and that infers at that level:
  `sh(...)` / `wsh(...)`;
- P2TR with an x-only key on the curve: `rawtr(<hex>)`;
- anything else with an address: `addr(<address>)`; the rest: `raw(<hex>)`;

KEY is the hex key, prefixed `[fingerprint/path]` when the provider has its origin.

Parsing (Core's descriptor Parse): `parse_descriptor(desc, params)` returns a
:class:`Descriptor`; `desc.expand(pos, provider)` gives its scriptPubKeys at `pos`
(the child index of ranged keys) and records keys, origins and scripts in the
:class:`Provider`. Supported: `addr(A)`, `raw(H)`, `pk(K)`, `pkh(K)`, `wpkh(K)`,
`combo(K)` (P2PK, P2PKH and, for a compressed key, P2WPKH and P2SH-P2WPKH),
`multi(k,K,...)`, `sortedmulti(k,K,...)`, `sh(X)`, `wsh(X)`. Key expressions K: an
optional origin `[8 hex/path]`, then a hex public key, a WIF private key, or an
extended key (`xpub`/`tpub`, `xprv`/`tprv` of the network) followed by `/path` and
optionally `/*` or `/*h` (`/*'`): BIP-0032 derivation (public derivation needs no
private key; a hardened step does). Not supported: tr(), rawtr(), miniscript,
multipath `<a;b>` (InvalidDescriptor).

`descriptor_to_script(desc, params)` is the single script of a non-ranged descriptor
that has exactly one (generatetodescriptor).

Errors: InvalidDescriptor with Core's parse error text (`Provided checksum 'x' does
not match computed checksum 'y'`, `'f(...)' is not a valid descriptor function`,
`key 'x' is not valid`, `Pubkey 'x' is invalid`, `Uncompressed keys are not
allowed`, `Key path value 'x' is not a valid uint32`, ...); `expand` raises
InvalidDescriptor("Cannot derive script without private keys") when a hardened step
has only a public key.
"""

import hashlib
import hmac
from dataclasses import dataclass, field

from coin.crypto.address import InvalidAddress, address_to_script, script_to_address
from coin.crypto.base58 import b58check_decode
from coin.crypto.ecc import (
    is_valid_pubkey,
    privkey_tweak_add,
    pubkey_from_privkey,
    pubkey_tweak_add,
)
from coin.crypto.hashes import hash160, ripemd160
from coin.crypto.keys import wif_decode
from coin.script.interpreter import push_data
from coin.script.standard import classify

__all__ = ["Descriptor", "InvalidDescriptor", "Provider", "descriptor_to_script", "descsum_check",
           "descsum_create", "infer_descriptor", "parse_descriptor"]

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


HARDENED = 0x80000000
MAX_PUBKEYS_PER_MULTISIG = 20
MAX_SCRIPT_ELEMENT_SIZE = 520

# Script contexts, as Core's ParseScriptContext.
_TOP, _P2SH, _P2WPKH, _P2WSH = "top", "p2sh", "p2wpkh", "p2wsh"


class InvalidDescriptor(ValueError):
    """A descriptor we cannot parse or expand (the message is Core's error text)."""


@dataclass
class Provider:
    """What expanding descriptors learned (Core's FlatSigningProvider, public part):
    `pubkeys` and `origins` by HASH160 of the key, `scripts` (P2SH redeem and P2WSH
    witness scripts) by HASH160 of the script."""

    pubkeys: dict[bytes, bytes] = field(default_factory=dict)
    origins: dict[bytes, tuple[bytes, tuple[int, ...]]] = field(default_factory=dict)
    scripts: dict[bytes, bytes] = field(default_factory=dict)


def _format_path(path) -> str:
    return "".join(f"/{i & 0x7FFFFFFF}{'h' if i & HARDENED else ''}" for i in path)


# -- key expressions ----------------------------------------------------------------------


@dataclass
class _ExtKey:
    chaincode: bytes
    pubkey: bytes
    privkey: bytes | None

    def child(self, i: int) -> "_ExtKey":
        if i & HARDENED:
            if self.privkey is None:
                raise InvalidDescriptor("Cannot derive script without private keys")
            data = b"\x00" + self.privkey + i.to_bytes(4, "big")
        else:
            data = self.pubkey + i.to_bytes(4, "big")
        digest = hmac.new(self.chaincode, data, hashlib.sha512).digest()
        tweak, chaincode = digest[:32], digest[32:]
        try:
            if self.privkey is not None:
                priv = privkey_tweak_add(self.privkey, tweak)
                return _ExtKey(chaincode, pubkey_from_privkey(priv, True), priv)
            return _ExtKey(chaincode, pubkey_tweak_add(self.pubkey, tweak), None)
        except ValueError:  # probability ~2^-127: BIP-0032 says skip; Core fails the derivation
            raise InvalidDescriptor("Cannot derive script without private keys") from None


@dataclass
class _Key:
    """One key expression: a constant key or an extended key with a path."""

    text: str
    origin: tuple[bytes, tuple[int, ...]] | None
    pubkey: bytes | None = None          # constant key
    ext: _ExtKey | None = None           # extended key
    path: tuple[int, ...] = ()
    derive: str = ""                     # "", "unhardened", "hardened"
    _base: _ExtKey | None = None

    @property
    def is_range(self) -> bool:
        return bool(self.derive)

    def get(self, pos: int) -> tuple[bytes, tuple[bytes, tuple[int, ...]]]:
        """(public key, (fingerprint, path)) at `pos`, as Core's PubkeyProvider::GetPubKey."""
        if self.pubkey is not None:
            key = self.pubkey
            fingerprint, path = hash160(key)[:4], ()
        else:
            if self._base is None:
                base = self.ext
                for i in self.path:
                    base = base.child(i)
                self._base = base
            node, path = self._base, self.path
            if self.derive:
                index = pos | (HARDENED if self.derive == "hardened" else 0)
                node = node.child(index)
                path = path + (index,)
            key = node.pubkey
            fingerprint = hash160(self.ext.pubkey)[:4]
        if self.origin is not None:
            fingerprint, path = self.origin[0], self.origin[1] + path
        return key, (fingerprint, path)


def _parse_key_path(elems: list[str]) -> tuple[int, ...]:
    """Core's ParseKeyPath over the elements after the first."""
    out = []
    for elem in elems:
        hardened = False
        if elem and elem[-1] in "'h":
            elem, hardened = elem[:-1], True
        if not elem.isdigit() or not elem.isascii() or int(elem) > 0xFFFFFFFF:
            raise InvalidDescriptor(f"Key path value '{elem}' is not a valid uint32")
        value = int(elem)
        if value > 0x7FFFFFFF:
            raise InvalidDescriptor(f"Key path value {value} is out of range")
        out.append(value | (HARDENED if hardened else 0))
    return tuple(out)


def _is_hex(text: str) -> bool:
    return len(text) % 2 == 0 and len(text) > 0 and all(c in "0123456789abcdefABCDEF" for c in text)


def _decode_ext(text: str, params) -> _ExtKey | None:
    try:
        data = b58check_decode(text)
    except ValueError:
        return None
    if len(data) != 78:
        return None
    version, chaincode, keydata = data[:4], data[13:45], data[45:78]
    if version == params.xpub_prefix:
        if keydata[0] not in (2, 3) or not is_valid_pubkey(keydata):
            return None
        return _ExtKey(chaincode, keydata, None)
    if version == params.xprv_prefix:
        if keydata[0] != 0:
            return None
        try:
            return _ExtKey(chaincode, pubkey_from_privkey(keydata[1:], True), keydata[1:])
        except ValueError:
            return None
    return None


def _parse_key_inner(text: str, ctx: str, params, origin) -> _Key:
    """Core's ParsePubkeyInner."""
    split = text.split("/")
    first = split[0]
    permit_uncompressed = ctx in (_TOP, _P2SH)
    if not first:
        raise InvalidDescriptor("No key provided")
    if len(split) == 1:
        if _is_hex(first):
            data = bytes.fromhex(first)
            valid = is_valid_pubkey(data)
            if valid and not _valid_non_hybrid(data):
                raise InvalidDescriptor("Hybrid public keys are not allowed")
            if valid:
                if permit_uncompressed or len(data) == 33:
                    return _Key(text, origin, pubkey=data)
                raise InvalidDescriptor("Uncompressed keys are not allowed")
            raise InvalidDescriptor(f"Pubkey '{first}' is invalid")
        try:
            priv, compressed, prefix = wif_decode(first)
        except ValueError:
            priv = None
        if priv is not None and prefix == params.wif_prefix:
            if permit_uncompressed or compressed:
                return _Key(text, origin, pubkey=pubkey_from_privkey(priv, compressed))
            raise InvalidDescriptor("Uncompressed keys are not allowed")
    ext = _decode_ext(first, params)
    if ext is None:
        raise InvalidDescriptor(f"key '{first}' is not valid")
    derive = ""
    if split[-1] == "*":
        split.pop()
        derive = "unhardened"
    elif split[-1] in ("*'", "*h"):
        split.pop()
        derive = "hardened"
    if any("<" in e for e in split[1:]):
        raise InvalidDescriptor("Multipath derivation paths are not supported")
    return _Key(text, origin, ext=ext, path=_parse_key_path(split[1:]), derive=derive)


def _parse_key(text: str, ctx: str, params) -> _Key:
    """Core's ParsePubkey: an optional [fingerprint/path] origin, then the key."""
    parts = text.split("]")
    if len(parts) > 2:
        raise InvalidDescriptor("Multiple ']' characters found for a single pubkey")
    if len(parts) == 1:
        return _parse_key_inner(text, ctx, params, None)
    if not parts[0] or parts[0][0] != "[":
        got = parts[0][0] if parts[0] else "]"
        raise InvalidDescriptor(f"Key origin start '[ character expected but not found, got '{got}' instead")
    slash = parts[0][1:].split("/")
    if len(slash[0]) != 8:
        raise InvalidDescriptor(f"Fingerprint is not 4 bytes ({len(slash[0])} characters instead of 8 characters)")
    if not _is_hex(slash[0]):
        raise InvalidDescriptor(f"Fingerprint '{slash[0]}' is not hex")
    origin = (bytes.fromhex(slash[0]), _parse_key_path(slash[1:]))
    return _parse_key_inner(parts[1], ctx, params, origin)


# -- script expressions -----------------------------------------------------------------


def _small_int(n: int) -> int:
    return 0x50 + n if n else 0


def _p2sh(script: bytes) -> bytes:
    return b"\xa9\x14" + hash160(script) + b"\x87"


def _p2wpkh(key: bytes) -> bytes:
    return b"\x00\x14" + hash160(key)


def _p2pkh(key: bytes) -> bytes:
    return b"\x76\xa9\x14" + hash160(key) + b"\x88\xac"


@dataclass
class Descriptor:
    """A parsed descriptor: `name` (the function), `keys`, `subs` (inner descriptors),
    `threshold` (multi), `script` (addr/raw)."""

    name: str
    keys: list[_Key] = field(default_factory=list)
    subs: list["Descriptor"] = field(default_factory=list)
    threshold: int = 0
    script: bytes = b""

    @property
    def is_range(self) -> bool:
        return any(k.is_range for k in self.keys) or any(s.is_range for s in self.subs)

    def expand(self, pos: int, provider: Provider | None = None) -> list[bytes]:
        """The scriptPubKeys at child index `pos`, recording what they need in `provider`."""
        provider = provider if provider is not None else Provider()
        return self._expand(pos, provider)

    def _expand(self, pos: int, provider: Provider) -> list[bytes]:
        if self.name in ("addr", "raw"):
            return [self.script]
        keys = []
        for k in self.keys:
            key, origin = k.get(pos)
            kid = hash160(key)
            provider.pubkeys[kid] = key
            provider.origins[kid] = origin
            keys.append(key)
        if self.name == "pk":
            return [push_data(keys[0]) + b"\xac"]
        if self.name == "pkh":
            return [_p2pkh(keys[0])]
        if self.name == "wpkh":
            return [_p2wpkh(keys[0])]
        if self.name == "combo":
            out = [push_data(keys[0]) + b"\xac", _p2pkh(keys[0])]
            if len(keys[0]) == 33:
                wpkh = _p2wpkh(keys[0])
                provider.scripts[hash160(wpkh)] = wpkh
                out += [wpkh, _p2sh(wpkh)]
            return out
        if self.name in ("multi", "sortedmulti"):
            if self.name == "sortedmulti":
                keys = sorted(keys)
            return [bytes([_small_int(self.threshold)]) + b"".join(push_data(k) for k in keys)
                    + bytes([_small_int(len(keys)), 0xAE])]
        inner = self.subs[0]._expand(pos, provider)
        script = inner[0]
        provider.scripts[hash160(script)] = script
        if self.name == "sh":
            return [_p2sh(script)]
        return [b"\x00\x20" + hashlib.sha256(script).digest()]  # wsh


def _split_args(text: str) -> list[str]:
    """Split a function's arguments at top-level commas."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def _call(text: str) -> tuple[str, str] | None:
    """(name, inside) if `text` is `name(inside)` with balanced parentheses."""
    open_at = text.find("(")
    if open_at <= 0 or not text.endswith(")"):
        return None
    depth = 0
    for i, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return None
    return text[:open_at], text[open_at + 1:-1]


_WHERE = {
    "pk": ((_TOP, _P2SH, _P2WSH), None),
    "pkh": ((_TOP, _P2SH, _P2WSH), "Can only have pkh() at top level, in sh(), wsh(), or in tr()"),
    "combo": ((_TOP,), "Can only have combo() at top level"),
    "wpkh": ((_TOP, _P2SH), "Can only have wpkh() at top level or inside sh()"),
    "multi": ((_TOP, _P2SH, _P2WSH), "Can only have multi/sortedmulti at top level, in sh(), or in wsh()"),
    "sortedmulti": ((_TOP, _P2SH, _P2WSH), "Can only have multi/sortedmulti at top level, in sh(), or in wsh()"),
    "sh": ((_TOP,), "Can only have sh() at top level"),
    "wsh": ((_TOP, _P2SH), "Can only have wsh() at top level or inside sh()"),
    "addr": ((_TOP,), "Can only have addr() at top level"),
    "raw": ((_TOP,), "Can only have raw() at top level"),
}


def _parse_script(text: str, ctx: str, params) -> Descriptor:
    call = _call(text)
    if call is None or call[0] not in _WHERE:
        if ctx == _P2SH:
            raise InvalidDescriptor("A function is needed within P2SH")
        if ctx == _P2WSH:
            raise InvalidDescriptor("A function is needed within P2WSH")
        raise InvalidDescriptor(f"'{text}' is not a valid descriptor function")
    name, inside = call
    allowed, message = _WHERE[name]
    if ctx not in allowed:
        raise InvalidDescriptor(message or f"Can only have {name}() at top level")
    key_ctx = {_TOP: _TOP, _P2SH: _P2SH, _P2WSH: _P2WSH}[ctx]
    if name in ("pk", "pkh", "combo"):
        return Descriptor(name, keys=[_parse_key(inside, key_ctx, params)])
    if name == "wpkh":
        return Descriptor(name, keys=[_parse_key(inside, _P2WPKH, params)])
    if name in ("multi", "sortedmulti"):
        args = _split_args(inside)
        if not args[0].isdigit() or not args[0].isascii():
            raise InvalidDescriptor(f"Multi threshold '{args[0]}' is not valid")
        threshold = int(args[0])
        keys = [_parse_key(a, key_ctx, params) for a in args[1:]]
        if not keys or len(keys) > MAX_PUBKEYS_PER_MULTISIG:
            raise InvalidDescriptor(f"Cannot have {len(keys)} keys in multisig; must have between 1 and "
                                    f"{MAX_PUBKEYS_PER_MULTISIG} keys, inclusive")
        if threshold < 1:
            raise InvalidDescriptor(f"Multisig threshold cannot be {threshold}, must be at least 1")
        if threshold > len(keys):
            raise InvalidDescriptor(f"Multisig threshold cannot be larger than the number of keys; threshold is "
                                    f"{threshold} but only {len(keys)} keys specified")
        if ctx == _TOP and len(keys) > 3:
            raise InvalidDescriptor(f"Cannot have {len(keys)} pubkeys in bare multisig; only at most 3 pubkeys")
        if ctx == _P2SH:
            size = 3 + sum(34 if k.pubkey is None or len(k.pubkey) == 33 else 66 for k in keys)
            if size > MAX_SCRIPT_ELEMENT_SIZE:
                raise InvalidDescriptor(f"P2SH script is too large, {size} bytes is larger than "
                                        f"{MAX_SCRIPT_ELEMENT_SIZE} bytes")
        return Descriptor(name, keys=keys, threshold=threshold)
    if name == "sh":
        return Descriptor(name, subs=[_parse_script(inside, _P2SH, params)])
    if name == "wsh":
        return Descriptor(name, subs=[_parse_script(inside, _P2WSH, params)])
    if name == "addr":
        try:
            return Descriptor(name, script=address_to_script(inside, params))
        except InvalidAddress:
            raise InvalidDescriptor("Address is not valid") from None
    if not _is_hex(inside) and inside:
        raise InvalidDescriptor("Raw script is not hex")
    return Descriptor(name, script=bytes.fromhex(inside))


def _check_checksum(desc: str) -> str:
    """Core's CheckChecksum (checksum optional): the descriptor without it."""
    parts = desc.split("#")
    if len(parts) > 2:
        raise InvalidDescriptor("Multiple '#' symbols")
    if len(parts) == 2 and len(parts[1]) != 8:
        raise InvalidDescriptor(f"Expected 8 character checksum, not {len(parts[1])} characters")
    try:
        computed = descsum_create(parts[0]).rpartition("#")[2]
    except ValueError:
        raise InvalidDescriptor("Invalid characters in payload") from None
    if len(parts) == 2 and parts[1] != computed:
        raise InvalidDescriptor(f"Provided checksum '{parts[1]}' does not match computed checksum '{computed}'")
    return parts[0]


def parse_descriptor(desc: str, params) -> Descriptor:
    """Core's Parse(descriptor, require_checksum=false); InvalidDescriptor on error."""
    return _parse_script(_check_checksum(desc), _TOP, params)


def descriptor_to_script(desc: str, params) -> bytes:
    """The one scriptPubKey of a non-ranged, single-script descriptor (see the module doc)."""
    parsed = parse_descriptor(desc, params)
    if parsed.is_range:
        raise InvalidDescriptor("Ranged descriptor not accepted. Maybe pass through deriveaddresses first?")
    scripts = parsed.expand(0)
    if len(scripts) != 1:
        raise InvalidDescriptor("Descriptor does not have a single script")
    return scripts[0]


# -- inference ----------------------------------------------------------------------------


def _infer_key(pubkey: bytes, ctx: str, provider: Provider | None) -> str | None:
    """Core's InferPubkey: the key, with its origin when the provider has one."""
    if not _valid_non_hybrid(pubkey):
        return None
    if ctx not in (_TOP, _P2SH) and len(pubkey) != 33:
        return None
    origin = provider.origins.get(hash160(pubkey)) if provider is not None else None
    if origin is None:
        return pubkey.hex()
    return f"[{origin[0].hex()}{_format_path(origin[1])}]{pubkey.hex()}"


def _infer(script: bytes, ctx: str, params, provider: Provider | None) -> str | None:
    """Core's InferScript (no miniscript, no taproot trees)."""
    kind, solutions = classify(script)
    known = provider.pubkeys if provider is not None else {}
    scripts = provider.scripts if provider is not None else {}
    if kind == "pubkey":
        key = _infer_key(solutions[0], ctx, provider)
        if key is not None:
            return f"pk({key})"
    if kind == "pubkeyhash" and solutions[0] in known:
        key = _infer_key(known[solutions[0]], ctx, provider)
        if key is not None:
            return f"pkh({key})"
    if kind == "witness_v0_keyhash" and ctx in (_TOP, _P2SH) and solutions[0] in known:
        key = _infer_key(known[solutions[0]], _P2WPKH, provider)
        if key is not None:
            return f"wpkh({key})"
    if kind == "multisig":
        keys = [_infer_key(k, ctx, provider) for k in solutions[1:-1]]
        if all(k is not None for k in keys):
            return f"multi({solutions[0][0]},{','.join(keys)})"
    if kind == "scripthash" and ctx == _TOP and solutions[0] in scripts:
        sub = _infer(scripts[solutions[0]], _P2SH, params, provider)
        if sub is not None:
            return f"sh({sub})"
    if kind == "witness_v0_scripthash" and ctx in (_TOP, _P2SH):
        sid = ripemd160(solutions[0])
        if sid in scripts:
            sub = _infer(scripts[sid], _P2WSH, params, provider)
            if sub is not None:
                return f"wsh({sub})"
    if ctx != _TOP:
        return None
    if kind == "witness_v1_taproot" and _xonly_on_curve(solutions[0]):
        return f"rawtr({solutions[0].hex()})"
    address = script_to_address(script, params)
    return f"addr({address})" if address is not None else f"raw({script.hex()})"


def infer_descriptor(script_pubkey: bytes, params, provider: Provider | None = None) -> str:
    """Core's InferDescriptor(script, provider)->ToString(), with checksum."""
    return descsum_create(_infer(script_pubkey, _TOP, params, provider))
