"""coin.wallet.bip39: generation, validation errors, normalisation, seed stretching."""

import hashlib
import unicodedata

import pytest
from mnemonic import Mnemonic

from coin.wallet.bip39 import (
    InvalidMnemonic,
    entropy_to_mnemonic,
    generate_mnemonic,
    mnemonic_to_entropy,
    mnemonic_to_seed,
    normalize_mnemonic,
    validate_mnemonic,
)

ABOUT = "abandon " * 11 + "about"


@pytest.mark.parametrize("strength,words", [(128, 12), (160, 15), (192, 18), (224, 21), (256, 24)])
def test_generate_lengths_and_validity(strength, words):
    phrase = generate_mnemonic(strength)
    assert len(phrase.split(" ")) == words
    assert validate_mnemonic(phrase) == phrase
    assert Mnemonic("english").check(phrase)


def test_generate_is_random():
    assert len({generate_mnemonic() for _ in range(8)}) == 8


@pytest.mark.parametrize("strength", [0, 64, 127, 129, 512])
def test_generate_rejects_bad_strength(strength):
    with pytest.raises(ValueError):
        generate_mnemonic(strength)


def test_entropy_round_trip():
    for n in (16, 20, 24, 28, 32):
        entropy = bytes(range(n))
        assert mnemonic_to_entropy(entropy_to_mnemonic(entropy)) == entropy
    with pytest.raises(ValueError):
        entropy_to_mnemonic(b"\x00" * 15)


def test_wrong_word_count():
    with pytest.raises(InvalidMnemonic, match="12, 15, 18, 21 or 24 words, not 11"):
        mnemonic_to_entropy("abandon " * 11)
    with pytest.raises(InvalidMnemonic, match="not 0"):
        mnemonic_to_entropy("   ")


def test_unknown_word_named_by_position_not_echoed():
    phrase = ABOUT.replace("about", "bitcoinz")
    with pytest.raises(InvalidMnemonic) as excinfo:
        mnemonic_to_entropy(phrase)
    assert "word 12" in str(excinfo.value)
    assert "bitcoinz" not in str(excinfo.value)
    assert "abandon" not in str(excinfo.value)


def test_checksum_failure():
    with pytest.raises(InvalidMnemonic, match="checksum"):
        mnemonic_to_entropy("abandon " * 12)


def test_normalisation():
    messy = "  ABANDON\tabandon abandon\nabandon abandon abandon abandon abandon abandon abandon abandon About "
    assert normalize_mnemonic(messy) == ABOUT
    assert validate_mnemonic(messy) == ABOUT
    assert mnemonic_to_seed(messy) == mnemonic_to_seed(ABOUT)


def test_seed_matches_pbkdf2_oracle():
    # BIP-0039: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + NFKD(passphrase), 2048), 64 bytes.
    passphrase = "Cr\u00e8me br\u00fbl\u00e9e"
    want = hashlib.pbkdf2_hmac(
        "sha512", ABOUT.encode(),
        ("mnemonic" + unicodedata.normalize("NFKD", passphrase)).encode(), 2048,
    )
    assert mnemonic_to_seed(ABOUT, passphrase) == want
    assert mnemonic_to_seed(ABOUT, "") != want


def test_seed_requires_valid_mnemonic():
    with pytest.raises(InvalidMnemonic):
        mnemonic_to_seed("abandon " * 12)
