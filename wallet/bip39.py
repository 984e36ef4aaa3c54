"""BIP-0039 mnemonic sentences: generate, validate, and stretch into a 64-byte seed.

The word list, checksum and PBKDF2 seed come from the `mnemonic` package (the BIP's
reference implementation); this module adds entropy from `secrets`, normalisation of
what a user types, and errors that say what is wrong without echoing the words (a
mnemonic is the wallet: it must not end up in a log or a traceback).

Only the English word list is accepted.
"""

import secrets
import unicodedata

from mnemonic import Mnemonic

__all__ = [
    "InvalidMnemonic",
    "VALID_STRENGTHS",
    "entropy_to_mnemonic",
    "generate_mnemonic",
    "mnemonic_to_entropy",
    "mnemonic_to_seed",
    "normalize_mnemonic",
    "validate_mnemonic",
]

VALID_STRENGTHS = (128, 160, 192, 224, 256)
_WORD_COUNTS = {s // 32 * 3: s for s in VALID_STRENGTHS}  # 12 -> 128, ..., 24 -> 256

_english = Mnemonic("english")
_index = {w: i for i, w in enumerate(_english.wordlist)}


class InvalidMnemonic(ValueError):
    """The sentence is not a valid English BIP-0039 mnemonic (count, word or checksum)."""


def normalize_mnemonic(mnemonic: str) -> str:
    """NFKD-normalise, lower-case and collapse whitespace to single spaces."""
    if not isinstance(mnemonic, str):
        raise TypeError("mnemonic must be a str")
    return " ".join(unicodedata.normalize("NFKD", mnemonic).lower().split())


def entropy_to_mnemonic(entropy: bytes) -> str:
    """The English mnemonic for 16, 20, 24, 28 or 32 bytes of entropy (ValueError otherwise)."""
    if len(entropy) * 8 not in VALID_STRENGTHS:
        raise ValueError(f"entropy must be 16, 20, 24, 28 or 32 bytes, not {len(entropy)}")
    return _english.to_mnemonic(bytes(entropy))


def generate_mnemonic(strength: int = 128) -> str:
    """A fresh mnemonic from `strength` bits of `secrets` entropy (128 -> 12 words, 256 -> 24)."""
    if strength not in VALID_STRENGTHS:
        raise ValueError(f"strength must be one of {VALID_STRENGTHS} bits, not {strength}")
    return entropy_to_mnemonic(secrets.token_bytes(strength // 8))


def mnemonic_to_entropy(mnemonic: str) -> bytes:
    """Decode a mnemonic back to its entropy, checking word count, words and checksum.

    Raises InvalidMnemonic naming the problem (word count, the position of an unknown
    word, or a failed checksum); the words themselves are never put in the message.
    """
    words = normalize_mnemonic(mnemonic).split(" ")
    if len(words) not in _WORD_COUNTS:
        raise InvalidMnemonic(
            f"a mnemonic has 12, 15, 18, 21 or 24 words, not {len(words) if words != [''] else 0}"
        )
    bits = 0
    for pos, word in enumerate(words, 1):
        try:
            bits = (bits << 11) | _index[word]
        except KeyError:
            raise InvalidMnemonic(f"word {pos} is not in the BIP-0039 English word list") from None
    checksum_bits = len(words) * 11 // 33
    entropy_bits = len(words) * 11 - checksum_bits
    entropy = (bits >> checksum_bits).to_bytes(entropy_bits // 8, "big")
    checksum = bits & ((1 << checksum_bits) - 1)
    expected = _english.to_mnemonic(entropy).split(" ")[-1]
    if _index[expected] & ((1 << checksum_bits) - 1) != checksum:
        raise InvalidMnemonic("mnemonic checksum failed (a word is wrong or out of order)")
    return entropy


def validate_mnemonic(mnemonic: str) -> str:
    """Return the normalised mnemonic if valid; raise InvalidMnemonic otherwise."""
    mnemonic_to_entropy(mnemonic)
    return normalize_mnemonic(mnemonic)


def mnemonic_to_seed(mnemonic: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP-0039 seed: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + passphrase, 2048).

    The mnemonic is validated first (InvalidMnemonic); the passphrase is NFKD-normalised
    as the BIP says, but otherwise taken as given (case and spaces matter).
    """
    normalized = validate_mnemonic(mnemonic)
    return bytes(Mnemonic.to_seed(normalized, passphrase))
