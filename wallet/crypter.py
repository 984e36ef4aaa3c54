"""Encryption of wallet secrets at rest: scrypt key derivation and AES-256-GCM.

Two layers, as Bitcoin Core's wallet does with its master key (CCrypter / CMasterKey):

    passphrase --scrypt(salt, n, r, p)--> passphrase key --AES-GCM--> master key (random 32 B)
    master key --AES-GCM--> each secret (mnemonic, seed, ...)

so changing the passphrase re-encrypts one 32-byte key, not every secret. Every
ciphertext is nonce (12 random bytes) || AES-GCM output, and is bound by its associated
data to the wallet's id and to what the secret is, so a blob copied from another
wallet or another field fails to decrypt.

Error contract: a wrong passphrase (or any tampering) fails the GCM tag and raises
`CorruptSecret` here; the store turns a failure on the master key into
`WrongPassphrase`. No secret is ever part of an exception message or a repr.
"""

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "MIN_SCRYPT_N",
    "CorruptSecret",
    "KdfParams",
    "WrongPassphrase",
    "decrypt",
    "derive_passphrase_key",
    "encrypt",
    "new_master_key",
    "new_salt",
]

MIN_SCRYPT_N = 2**15  # never lower in a real wallet (tests lower it for speed)
DEFAULT_SCRYPT_N = 2**15
_NONCE_LEN = 12
_KEY_LEN = 32


class WrongPassphrase(Exception):
    """The passphrase does not decrypt this wallet's master key."""


class CorruptSecret(Exception):
    """A stored secret failed authentication under the (correct) master key."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """scrypt parameters as stored in the wallet file (the salt is not secret)."""

    salt: bytes
    n: int = DEFAULT_SCRYPT_N
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < MIN_SCRYPT_N or self.n & (self.n - 1):
            raise ValueError(f"scrypt n must be a power of two >= {MIN_SCRYPT_N}")
        if self.r < 1 or self.p < 1 or len(self.salt) < 16:
            raise ValueError("scrypt r and p must be >= 1 and the salt at least 16 bytes")


def new_salt() -> bytes:
    return os.urandom(16)


def new_master_key() -> bytes:
    return os.urandom(_KEY_LEN)


def derive_passphrase_key(passphrase: str, kdf: KdfParams) -> bytes:
    """scrypt(passphrase as UTF-8, salt, n, r, p) -> 32 bytes. Memory-hard: 128*n*r bytes."""
    if not isinstance(passphrase, str):
        raise TypeError("passphrase must be a str")
    maxmem = 128 * kdf.n * kdf.r * kdf.p + 16 * 1024 * 1024
    return hashlib.scrypt(
        passphrase.encode("utf-8"), salt=kdf.salt, n=kdf.n, r=kdf.r, p=kdf.p,
        maxmem=maxmem, dklen=_KEY_LEN,
    )


def encrypt(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """nonce || AES-256-GCM(key, nonce, plaintext, associated_data), with a random nonce."""
    nonce = os.urandom(_NONCE_LEN)
    return nonce + AESGCM(key).encrypt(nonce, bytes(plaintext), associated_data)


def decrypt(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    """Open a blob from `encrypt`; CorruptSecret (no details) if the tag does not verify."""
    if len(blob) < _NONCE_LEN + 16:
        raise CorruptSecret("ciphertext too short")
    try:
        return AESGCM(key).decrypt(blob[:_NONCE_LEN], blob[_NONCE_LEN:], associated_data)
    except InvalidTag:
        raise CorruptSecret("authentication failed (wrong key, or the data was altered)") from None
