"""BIP-0173 (Bech32) and BIP-0350 (Bech32m) test vectors, parsed from the BIP texts.

The lists are read from ../shared/vectors/bips/bip-0173.mediawiki and
bip-0350.mediawiki at collection time; nothing is copied here.
"""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from coin.crypto import bech32
from coin.crypto.address import InvalidAddress, address_to_script, script_to_address
from coin.crypto.bech32 import Encoding

_BIPS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "bips"

_ITEM = re.compile(r"^\* (?:0x([0-9A-Fa-f]{2}) \+ )?<tt>([^<]*)</tt>(?: \+ 0x([0-9A-Fa-f]{2}))?(.*)$")


def _sections(name: str) -> dict[str, list[tuple[str, str]]]:
    """{section: [(string, rest)]}, sections keyed by the sentence that opens each list."""
    text = (_BIPS / name).read_text(encoding="utf-8")
    text = text.split("est vectors", 1)[1]
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        low = line.lower()
        if low.startswith("the following"):
            if "valid segwit addresses" in low:
                current = "invalid_addr" if "invalid segwit" in low else "valid_addr"
            elif "not valid" in low:
                current = "invalid_str"
            elif "valid" in low:
                current = "valid_str"
            continue
        m = _ITEM.match(line)
        if m and current:
            s = (chr(int(m.group(1), 16)) if m.group(1) else "") + m.group(2) + \
                (chr(int(m.group(3), 16)) if m.group(3) else "")
            out.setdefault(current, []).append((s, m.group(4).lstrip(": ").strip()))
        elif line.startswith("==") and current == "invalid_addr":
            break  # the invalid addresses close the test vectors
    return out


def _load():
    if not _BIPS.is_dir():
        return {}
    return {"bip173": _sections("bip-0173.mediawiki"), "bip350": _sections("bip-0350.mediawiki")}


_V = _load()


def _cases(bip, section):
    return _V.get(bip, {}).get(section, [])


def _id(s):
    return s.encode("unicode_escape").decode()[:48]


def test_vectors_were_found():
    assert len(_cases("bip173", "valid_str")) == 7
    assert len(_cases("bip173", "invalid_str")) == 12
    assert len(_cases("bip173", "valid_addr")) == 6
    assert len(_cases("bip173", "invalid_addr")) == 10
    assert len(_cases("bip350", "valid_str")) == 7
    assert len(_cases("bip350", "invalid_str")) == 14
    assert len(_cases("bip350", "valid_addr")) == 8
    assert len(_cases("bip350", "invalid_addr")) == 15


@pytest.mark.parametrize("bip,encoding", [("bip173", Encoding.BECH32), ("bip350", Encoding.BECH32M)])
def test_valid_strings(bip, encoding):
    for s, _ in _cases(bip, "valid_str"):
        hrp, data, enc = bech32.bech32_decode(s)
        assert enc is encoding, s
        assert bech32.bech32_encode(hrp, data, enc) == s.lower()
        # Any single-character substitution in the data part breaks the checksum.
        pos = s.rfind("1") + 1
        c = s[pos].lower()
        flipped = s[:pos] + bech32.CHARSET[(bech32.CHARSET.index(c) + 1) % 32] + s[pos + 1:]
        with pytest.raises(ValueError):
            bech32.bech32_decode(flipped.lower())


@pytest.mark.parametrize("s,reason", _cases("bip173", "invalid_str") + _cases("bip350", "invalid_str"),
                         ids=lambda x: _id(x))
def test_invalid_strings(s, reason):
    with pytest.raises(ValueError):
        bech32.bech32_decode(s)


def _net(hrp):
    # Only the HRP matters for segwit addresses; prefixes are placeholders.
    return SimpleNamespace(bech32_hrp=hrp, base58_pubkey_prefix=0, base58_script_prefix=5)


def _split_valid(rest):
    m = re.match(r"<tt>([0-9a-f]+)</tt>", rest)
    assert m, rest
    return bytes.fromhex(m.group(1))


@pytest.mark.parametrize("addr,rest", _cases("bip350", "valid_addr"), ids=lambda x: _id(x))
def test_bip350_valid_addresses(addr, rest):
    script = _split_valid(rest)
    hrp = addr[: addr.rfind("1")].lower()
    witver, prog = bech32.decode(hrp, addr)
    assert bytes([witver + 0x50 if witver else 0, len(prog)]) + prog == script
    assert bech32.encode(hrp, witver, prog) == addr.lower()
    assert address_to_script(addr, _net(hrp)) == script
    assert script_to_address(script, _net(hrp)) == addr.lower()


@pytest.mark.parametrize("addr,rest", _cases("bip173", "valid_addr"), ids=lambda x: _id(x))
def test_bip173_valid_addresses(addr, rest):
    """Version 0 still decodes; BIP-0350 turned the Bech32 v1+ examples invalid."""
    script = _split_valid(rest)
    hrp = addr[: addr.rfind("1")].lower()
    _, data, enc = bech32.bech32_decode(addr)
    assert enc is Encoding.BECH32
    witver = data[0]
    prog = bytes(bech32.convertbits(data[1:], 5, 8, False))
    assert bytes([witver + 0x50 if witver else 0, len(prog)]) + prog == script
    if witver == 0:
        assert bech32.decode(hrp, addr) == (0, prog)
        assert address_to_script(addr, _net(hrp)) == script
        assert script_to_address(script, _net(hrp)) == addr.lower()
    else:
        with pytest.raises(ValueError):
            bech32.decode(hrp, addr)
        # The same program in Bech32m is what the address is now.
        assert bech32.decode(hrp, bech32.encode(hrp, witver, prog)) == (witver, prog)


@pytest.mark.parametrize("addr,reason", _cases("bip173", "invalid_addr") + _cases("bip350", "invalid_addr"),
                         ids=lambda x: _id(x))
def test_invalid_addresses(addr, reason):
    for hrp in ("bc", "tb"):
        with pytest.raises(ValueError):
            bech32.decode(hrp, addr)
        with pytest.raises(InvalidAddress):
            address_to_script(addr, _net(hrp))


def test_encode_rejects_what_decode_rejects():
    for witver, n in ((0, 21), (0, 40), (1, 1), (1, 41), (17, 32), (-1, 20)):
        with pytest.raises(ValueError):
            bech32.encode("bc", witver, bytes(n))
    with pytest.raises(ValueError):
        bech32.bech32_encode("", [], Encoding.BECH32)
    with pytest.raises(ValueError):
        bech32.bech32_encode("bc", [32], Encoding.BECH32)
    with pytest.raises(ValueError):
        bech32.bech32_encode("a" * 84, [], Encoding.BECH32)  # 91 characters


def test_wrong_hrp():
    addr = bech32.encode("bc", 0, bytes(20))
    assert bech32.decode("BC", addr) == (0, bytes(20))
    with pytest.raises(ValueError):
        bech32.decode("tb", addr)
