"""secp256k1 ECDSA behind one small interface, over two interchangeable backends.

Backends:
- ``coincurve``: libsecp256k1, the library Bitcoin Core itself uses. The default.
  The verification hot path calls libsecp256k1 through coincurve's cffi module
  directly (no wrapper objects) and keeps a bounded cache of parsed public keys;
  cffi releases the GIL during the C calls, so verification scales over threads.
- ``ecdsa``: pure Python (the ``ecdsa`` package's point arithmetic), always
  available; the fallback when coincurve cannot be imported, and the second
  implementation the first is tested against.

Selection: ``set_backend("ecdsa" | "coincurve")``; the environment variable
``COIN_ECDSA_BACKEND`` is read once at import. ``get_backend()`` returns the current
backend object (``.name`` says which); ``get_backend(name)`` returns a given one.

The module-level functions dispatch to the current backend. Both backends give the
same answers byte for byte: verification is Bitcoin Core's ``CPubKey::Verify``
(public key parsed as libsecp256k1 does: 33-byte compressed, 65-byte uncompressed
and 65-byte hybrid 0x06/0x07 with the parity of y checked; signature parsed with
Core's lax DER parser; S normalised to low-S; then ECDSA), signing is RFC 6979
(HMAC-SHA256, no extra entropy, no R grinding), low-S, strict DER.

Arguments are bytes (verification also takes other bytes-like objects, at the cost
of a copy). Error contract: ``verify_signature`` never raises on data from the
network: a bad public key or an unparseable signature is just ``False`` (a ``msg32``
that is not 32 bytes is a programming error and raises ValueError). The key functions
raise ValueError on invalid keys or tweaks.
"""

import hashlib
import os

from coin.crypto.der import SECP256K1_HALF_ORDER, SECP256K1_ORDER, parse_der_lax

__all__ = [
    "SECP256K1_ORDER",
    "SECP256K1_P",
    "Backend",
    "available_backends",
    "get_backend",
    "set_backend",
    "verify_signature",
    "first_bad_signature",
    "sign",
    "pubkey_from_privkey",
    "is_valid_privkey",
    "is_valid_pubkey",
    "compress_pubkey",
    "decompress_pubkey",
    "pubkey_tweak_add",
    "privkey_tweak_add",
]

SECP256K1_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
_N = SECP256K1_ORDER
_HALF_N = SECP256K1_HALF_ORDER
_P = SECP256K1_P

# CPubKey::GetLen: the only lengths a public key may have, by its first byte.
_PUBKEY_LEN = {2: 33, 3: 33, 4: 65, 6: 65, 7: 65}

# Parsed public keys kept per backend; cleared wholesale when full (cheap, and the
# hit rate of an LRU would not pay for its bookkeeping here).
_PUBKEY_CACHE_MAX = 4096


def _check_priv(priv32: bytes) -> int:
    if len(priv32) != 32:
        raise ValueError("private key must be 32 bytes")
    k = int.from_bytes(priv32, "big")
    if not 0 < k < _N:
        raise ValueError("private key out of range")
    return k


def _check_msg(msg32: bytes) -> None:
    if len(msg32) != 32:
        raise ValueError("message hash must be 32 bytes")


def is_valid_privkey(b: bytes) -> bool:
    """True if ``b`` is 32 bytes encoding an integer in [1, n-1] (Core's CKey::Check)."""
    return len(b) == 32 and 0 < int.from_bytes(b, "big") < _N


def privkey_tweak_add(priv32: bytes, tweak32: bytes) -> bytes:
    """(priv + tweak) mod n, as 32 bytes (BIP-0032 private derivation).

    Raises ValueError if the key is invalid, the tweak is not 32 bytes or is >= n,
    or the result is zero.
    """
    k = _check_priv(priv32)
    if len(tweak32) != 32:
        raise ValueError("tweak must be 32 bytes")
    t = int.from_bytes(tweak32, "big")
    if t >= _N:
        raise ValueError("tweak out of range")
    k = (k + t) % _N
    if k == 0:
        raise ValueError("tweaked private key is zero")
    return k.to_bytes(32, "big")


class Backend:
    """What every backend provides. Methods mirror the module-level functions."""

    name = "abstract"

    def verify_signature(self, pubkey: bytes, der_sig: bytes, msg32: bytes) -> bool:
        raise NotImplementedError

    def first_bad_signature(self, jobs) -> int | None:
        """Index of the first (pubkey, der_sig, msg32) of `jobs` that does not verify
        (``verify_signature`` is False), or None when all do."""
        verify = self.verify_signature
        for j, (pubkey, der, msg32) in enumerate(jobs):
            if not verify(pubkey, der, msg32):
                return j
        return None

    def sign(self, privkey32: bytes, msg32: bytes) -> bytes:
        raise NotImplementedError

    def pubkey_from_privkey(self, privkey32: bytes, compressed: bool = True) -> bytes:
        raise NotImplementedError

    def is_valid_pubkey(self, pubkey: bytes) -> bool:
        raise NotImplementedError

    def serialize_pubkey(self, pubkey: bytes, compressed: bool) -> bytes:
        """Re-encode a valid public key; ValueError if it is not one."""
        raise NotImplementedError

    def pubkey_tweak_add(self, pubkey: bytes, tweak32: bytes) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<ECDSA backend {self.name}>"


class _EcdsaBackend(Backend):
    """Pure Python, over the ``ecdsa`` package's Jacobian point arithmetic."""

    name = "ecdsa"

    def __init__(self) -> None:
        from ecdsa import SECP256k1
        from ecdsa.ellipticcurve import INFINITY, PointJacobi
        from ecdsa.util import sigencode_der_canonize

        self._curve_obj = SECP256k1
        self._curve = SECP256k1.curve
        self._g = SECP256k1.generator
        self._infinity = INFINITY
        self._point_cls = PointJacobi
        self._sigencode = sigencode_der_canonize
        self._cache: dict[bytes, object] = {}

    # -- public keys --------------------------------------------------------
    @staticmethod
    def _decode_xy(pubkey: bytes) -> tuple[int, int] | None:
        # Exactly secp256k1_ec_pubkey_parse, after Core's length-by-prefix rule.
        n = len(pubkey)
        if n == 0 or _PUBKEY_LEN.get(pubkey[0]) != n:
            return None
        t = pubkey[0]
        x = int.from_bytes(pubkey[1:33], "big")
        if x >= _P:
            return None
        y2 = (pow(x, 3, _P) + 7) % _P
        if n == 33:
            y = pow(y2, (_P + 1) // 4, _P)
            if y * y % _P != y2:
                return None
            if (y & 1) != (t & 1):
                y = _P - y
            return x, y
        y = int.from_bytes(pubkey[33:65], "big")
        if y >= _P or y * y % _P != y2:
            return None
        if t != 4 and (y & 1) != (t & 1):
            return None
        return x, y

    def _point(self, pubkey: bytes):
        pt = self._cache.get(pubkey)
        if pt is None:
            xy = self._decode_xy(pubkey)
            if xy is None:
                return None
            pt = self._point_cls(self._curve, xy[0], xy[1], 1, _N)
            if len(self._cache) >= _PUBKEY_CACHE_MAX:
                self._cache.clear()
            self._cache[pubkey] = pt
        return pt

    @staticmethod
    def _encode_xy(x: int, y: int, compressed: bool) -> bytes:
        if compressed:
            return bytes([2 | (y & 1)]) + x.to_bytes(32, "big")
        return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")

    def is_valid_pubkey(self, pubkey: bytes) -> bool:
        return self._decode_xy(pubkey) is not None

    def serialize_pubkey(self, pubkey: bytes, compressed: bool) -> bytes:
        xy = self._decode_xy(pubkey)
        if xy is None:
            raise ValueError("invalid public key")
        return self._encode_xy(xy[0], xy[1], compressed)

    def pubkey_from_privkey(self, privkey32: bytes, compressed: bool = True) -> bytes:
        k = _check_priv(privkey32)
        pt = self._g * k
        return self._encode_xy(pt.x(), pt.y(), compressed)

    def pubkey_tweak_add(self, pubkey: bytes, tweak32: bytes) -> bytes:
        pt = self._point(pubkey)
        if pt is None:
            raise ValueError("invalid public key")
        if len(tweak32) != 32:
            raise ValueError("tweak must be 32 bytes")
        t = int.from_bytes(tweak32, "big")
        if t >= _N:
            raise ValueError("tweak out of range")
        res = pt + self._g * t if t else pt
        if res == self._infinity:
            raise ValueError("tweaked public key is the point at infinity")
        return self._encode_xy(res.x(), res.y(), len(pubkey) == 33)

    # -- signatures ---------------------------------------------------------
    def verify_signature(self, pubkey: bytes, der_sig: bytes, msg32: bytes) -> bool:
        if type(pubkey) is not bytes:
            pubkey = bytes(pubkey)
        _check_msg(msg32)
        pt = self._point(pubkey)
        if pt is None:
            return False
        rs = parse_der_lax(der_sig)
        if rs is None:
            return False
        r, s = rs
        if r == 0 or s == 0:
            return False
        # Normalising S does not change the verdict of the textbook equation, but
        # Core does it, so do we (libsecp256k1 rejects high S otherwise).
        if s > _HALF_N:
            s = _N - s
        z = int.from_bytes(msg32, "big")
        w = pow(s, -1, _N)
        res = self._g.mul_add(z * w % _N, pt, r * w % _N)
        if res == self._infinity:
            return False
        return res.x() % _N == r

    def sign(self, privkey32: bytes, msg32: bytes) -> bytes:
        from ecdsa import SigningKey

        _check_priv(privkey32)
        _check_msg(msg32)
        sk = SigningKey.from_string(privkey32, curve=self._curve_obj, hashfunc=hashlib.sha256)
        return sk.sign_digest_deterministic(msg32, hashfunc=hashlib.sha256, sigencode=self._sigencode)


class _CoincurveBackend(Backend):
    """libsecp256k1 through coincurve's cffi module."""

    name = "coincurve"

    def __init__(self) -> None:
        import coincurve
        from coincurve._libsecp256k1 import ffi, lib
        from coincurve.context import GLOBAL_CONTEXT

        self._coincurve = coincurve
        self._ffi = ffi
        self._lib = lib
        self._ctx = GLOBAL_CONTEXT.ctx
        self._cache: dict[bytes, object] = {}
        self._batch = _native_batch(ffi, lib, self._ctx, self._cache)

    def _parse_pubkey(self, pubkey: bytes):
        pk = self._cache.get(pubkey)
        if pk is None:
            n = len(pubkey)
            if n == 0 or _PUBKEY_LEN.get(pubkey[0]) != n:
                return None
            pk = self._ffi.new("secp256k1_pubkey *")
            if not self._lib.secp256k1_ec_pubkey_parse(self._ctx, pk, pubkey, n):
                return None
            if len(self._cache) >= _PUBKEY_CACHE_MAX:
                self._cache.clear()
            self._cache[pubkey] = pk
        return pk

    def _serialize(self, pk, compressed: bool) -> bytes:
        ffi = self._ffi
        size = 33 if compressed else 65
        out = ffi.new("unsigned char[65]")
        out_len = ffi.new("size_t *", size)
        flag = self._coincurve.flags.EC_COMPRESSED if compressed else self._coincurve.flags.EC_UNCOMPRESSED
        self._lib.secp256k1_ec_pubkey_serialize(self._ctx, out, out_len, pk, flag)
        return bytes(ffi.buffer(out, out_len[0]))

    def is_valid_pubkey(self, pubkey: bytes) -> bool:
        return self._parse_pubkey(pubkey) is not None

    def serialize_pubkey(self, pubkey: bytes, compressed: bool) -> bytes:
        pk = self._parse_pubkey(pubkey)
        if pk is None:
            raise ValueError("invalid public key")
        return self._serialize(pk, compressed)

    def pubkey_from_privkey(self, privkey32: bytes, compressed: bool = True) -> bytes:
        _check_priv(privkey32)
        return self._coincurve.PublicKey.from_valid_secret(privkey32).format(compressed)

    def pubkey_tweak_add(self, pubkey: bytes, tweak32: bytes) -> bytes:
        pk = self._parse_pubkey(pubkey)
        if pk is None:
            raise ValueError("invalid public key")
        if len(tweak32) != 32:
            raise ValueError("tweak must be 32 bytes")
        new = self._ffi.new("secp256k1_pubkey *", pk[0])
        if not self._lib.secp256k1_ec_pubkey_tweak_add(self._ctx, new, tweak32):
            raise ValueError("tweak out of range, or the result is the point at infinity")
        return self._serialize(new, len(pubkey) == 33)

    def verify_signature(self, pubkey: bytes, der_sig: bytes, msg32: bytes) -> bool:
        # bytes-like arguments are accepted; bytes is the fast path.
        if type(pubkey) is not bytes:
            pubkey = bytes(pubkey)
        if type(msg32) is not bytes:
            msg32 = bytes(msg32)
        if len(msg32) != 32:
            raise ValueError("message hash must be 32 bytes")
        pk = self._cache.get(pubkey)
        if pk is None:
            pk = self._parse_pubkey(pubkey)
            if pk is None:
                return False
        rs = parse_der_lax(der_sig)
        if rs is None:
            return False
        r, s = rs
        if s > _HALF_N:
            s = _N - s
        lib = self._lib
        sig = self._ffi.new("secp256k1_ecdsa_signature *")
        # r, s < n here (the lax parser maps overflow to zero), so this cannot fail;
        # a zero r or s parses and then fails verification, as in Core.
        lib.secp256k1_ecdsa_signature_parse_compact(self._ctx, sig, r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return lib.secp256k1_ecdsa_verify(self._ctx, sig, msg32, pk) == 1

    def first_bad_signature(self, jobs) -> int | None:
        # One call into coin._ecdsa for the lot: the GIL is released once, not twice a
        # signature. Without the extension (a source tree it was not built in), one by one.
        if self._batch is None or len(jobs) < 2:
            return super().first_bad_signature(jobs)
        return self._batch(jobs)

    def sign(self, privkey32: bytes, msg32: bytes) -> bytes:
        _check_priv(privkey32)
        _check_msg(msg32)
        return self._coincurve.PrivateKey(privkey32).sign(msg32, hasher=None)


def _native_batch(cc_ffi, cc_lib, ctx, cache: dict):
    """coin._ecdsa's batch verifier bound to coincurve's libsecp256k1, or None when the
    extension is not built. Returns f(jobs) -> index of the first failure or None.

    Parsed public keys are shared with the backend's cache (pubkey bytes -> cdata
    ``secp256k1_pubkey *``): keys found there are not parsed again, keys the batch
    parses are added to it."""
    try:
        from coin._ecdsa import ffi, lib
    except ImportError:
        return None

    def fn(name: str, ctype: str):
        address = int(cc_ffi.cast("uintptr_t", cc_ffi.addressof(cc_lib, name)))
        return ffi.cast(ctype, address)

    api = ffi.new("struct coin_secp_api *")
    api.ctx = ffi.cast("void *", int(cc_ffi.cast("uintptr_t", ctx)))
    api.pubkey_parse = fn("secp256k1_ec_pubkey_parse",
                          "int(*)(const void *, coin_secp_pubkey *, const unsigned char *, size_t)")
    api.signature_parse_compact = fn("secp256k1_ecdsa_signature_parse_compact",
                                     "int(*)(const void *, coin_secp_signature *, const unsigned char *)")
    api.signature_normalize = fn("secp256k1_ecdsa_signature_normalize",
                                 "int(*)(const void *, coin_secp_signature *, const coin_secp_signature *)")
    api.verify = fn("secp256k1_ecdsa_verify",
                    "int(*)(const void *, const coin_secp_signature *, const unsigned char *, "
                    "const coin_secp_pubkey *)")
    verify_batch = lib.coin_ecdsa_verify_batch
    new = ffi.new
    from_buffer = ffi.from_buffer

    def offsets(items) -> object:
        out = [0]
        total = 0
        for item in items:
            total += len(item)
            out.append(total)
        return new("uint32_t[]", out)

    cc_buffer = cc_ffi.buffer
    cc_new = cc_ffi.new
    cc_memmove = cc_ffi.memmove
    zero = bytes(64)

    def first_bad(jobs) -> int | None:
        pubkeys, sigs, msgs = zip(*jobs, strict=True)
        for m in msgs:
            if len(m) != 32:
                raise ValueError("message hash must be 32 bytes")
        # bytes-like keys are accepted, as by verify_signature; the cache keys on bytes
        pubkeys = [p if type(p) is bytes else bytes(p) for p in pubkeys]
        n = len(jobs)
        known = [cache.get(p) for p in pubkeys]
        parsed = bytearray(b"".join(zero if k is None else cc_buffer(k)[:] for k in known))
        states = bytearray(0 if k is None else 1 for k in known)
        bad = verify_batch(api, n, from_buffer(b"".join(pubkeys)), offsets(pubkeys),
                           from_buffer("coin_secp_pubkey[]", parsed), from_buffer(states),
                           from_buffer(b"".join(sigs)), offsets(sigs), from_buffer(b"".join(msgs)))
        for i in range(n if bad < 0 else bad + 1):
            if known[i] is None and states[i] == 1:
                if len(cache) >= _PUBKEY_CACHE_MAX:
                    cache.clear()
                pk = cache[pubkeys[i]] = cc_new("secp256k1_pubkey *")
                cc_memmove(pk, parsed[64 * i:64 * i + 64], 64)
        return None if bad < 0 else bad

    first_bad.api = api  # keeps the struct alive as long as the function
    return first_bad


_FACTORIES = {"coincurve": _CoincurveBackend, "ecdsa": _EcdsaBackend}
_instances: dict[str, Backend] = {}


def available_backends() -> tuple[str, ...]:
    """Names of the backends that can be loaded here, default first."""
    names = []
    for name in _FACTORIES:
        try:
            get_backend(name)
        except ImportError:
            continue
        names.append(name)
    return tuple(names)


def get_backend(name: str | None = None) -> Backend:
    """The current backend, or the named one (ValueError if unknown, ImportError if
    its library is missing)."""
    if name is None:
        return _current
    inst = _instances.get(name)
    if inst is None:
        factory = _FACTORIES.get(name)
        if factory is None:
            raise ValueError(f"unknown ECDSA backend {name!r} (choose from {', '.join(_FACTORIES)})")
        inst = _instances[name] = factory()
    return inst


def set_backend(name: str) -> Backend:
    """Make ``name`` ("coincurve" or "ecdsa") the current backend and return it."""
    global _current
    _current = get_backend(name)
    return _current


def _initial_backend() -> Backend:
    wanted = os.environ.get("COIN_ECDSA_BACKEND", "").strip().lower()
    if wanted:
        return get_backend(wanted)
    try:
        return get_backend("coincurve")
    except ImportError:
        return get_backend("ecdsa")


_current: Backend = _initial_backend()


def verify_signature(pubkey: bytes, der_sig: bytes, msg32: bytes) -> bool:
    """Core's CPubKey::Verify: does ``der_sig`` (lax DER, no sighash byte) sign ``msg32``
    under ``pubkey``? False for an invalid key or an unparseable signature."""
    return _current.verify_signature(pubkey, der_sig, msg32)


def first_bad_signature(jobs) -> int | None:
    """Index of the first (pubkey, der_sig, msg32) of ``jobs`` (a sequence) that
    ``verify_signature`` rejects, or None when all verify. With libsecp256k1 and the
    coin._ecdsa extension the whole batch is verified in C, the GIL released once."""
    return _current.first_bad_signature(jobs)


def sign(privkey32: bytes, msg32: bytes) -> bytes:
    """RFC 6979 deterministic, low-S, strict-DER signature of ``msg32`` (no sighash byte).

    Raises ValueError for an invalid private key or a message that is not 32 bytes.
    """
    return _current.sign(privkey32, msg32)


def pubkey_from_privkey(privkey32: bytes, compressed: bool = True) -> bytes:
    """The public key of ``privkey32``, 33 bytes compressed or 65 bytes uncompressed.

    Raises ValueError for an invalid private key.
    """
    return _current.pubkey_from_privkey(privkey32, compressed)


def is_valid_pubkey(b: bytes) -> bool:
    """Core's CPubKey::IsFullyValid: right length for its prefix and a point on the curve
    (hybrid 0x06/0x07 keys included, their y parity checked)."""
    return _current.is_valid_pubkey(b)


def compress_pubkey(pub: bytes) -> bytes:
    """The 33-byte compressed form of any valid public key; ValueError if invalid."""
    return _current.serialize_pubkey(pub, True)


def decompress_pubkey(pub: bytes) -> bytes:
    """The 65-byte uncompressed (0x04) form of any valid public key; ValueError if invalid."""
    return _current.serialize_pubkey(pub, False)


def pubkey_tweak_add(pubkey: bytes, tweak32: bytes) -> bytes:
    """pubkey + tweak*G (BIP-0032 public derivation), encoded compressed if the input was
    33 bytes, else uncompressed. Raises ValueError if the key is invalid, the tweak is
    not 32 bytes or is >= n, or the result is the point at infinity."""
    return _current.pubkey_tweak_add(pubkey, tweak32)
