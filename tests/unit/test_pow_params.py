"""Chain parameters and proof of work, checked against Bitcoin's own history."""

from types import SimpleNamespace

import pytest

from coin.consensus.pow import (
    bits_to_target,
    block_work,
    calculate_next_work_required,
    check_proof_of_work,
    compact_to_target,
    get_difficulty,
    get_next_work_required,
    target_to_bits,
)
from coin.params import get_params


def test_genesis_hashes():
    assert get_params("main").genesis.hash == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    assert get_params("regtest").genesis.hash == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    regtest_header = ("0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b2"
                      "7ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f2002000000")
    assert get_params("regtest").genesis.header.to_bytes().hex() == regtest_header


def test_unknown_network():
    with pytest.raises(ValueError):
        get_params("testnet7")


def test_consensus_constants():
    main, regtest = get_params("main"), get_params("regtest")
    assert main.difficulty_adjustment_interval == 2016 and main.subsidy_halving_interval == 210000
    assert regtest.subsidy_halving_interval == 150 and regtest.pow_no_retargeting
    assert target_to_bits(main.pow_limit) == 0x1D00FFFF == main.pow_limit_bits
    assert target_to_bits(regtest.pow_limit) == 0x207FFFFF == regtest.pow_limit_bits
    assert (main.bip34_height, main.bip65_height, main.bip66_height, main.csv_height, main.segwit_height) == (
        227931, 388381, 363725, 419328, 481824)
    assert (regtest.base58_pubkey_prefix, regtest.base58_script_prefix, regtest.wif_prefix, regtest.bech32_hrp) == (
        111, 196, 239, "bcrt")


@pytest.mark.parametrize("bits,target", [
    (0x1D00FFFF, 0xFFFF << 208),
    (0x207FFFFF, 0x7FFFFF << 232),
    (0x1B0404CB, 0x0404CB << 192),
    (0x03123456, 0x123456),
    (0x01003456, 0),
    (0x05009234, 0x92340000),
])
def test_compact_round_trip(bits, target):
    assert bits_to_target(bits) == target
    if target:
        assert target_to_bits(target) == bits


def test_compact_negative_and_overflow():
    assert compact_to_target(0x04923456)[1]  # negative
    # Core's SetCompact shifts the mantissa away before the sign test (arith_uint256_tests):
    # 0x01803456 and 0x02800056 are zero and not negative; 0x01fedcba is negative.
    assert compact_to_target(0x01803456) == (0, False, False)
    assert compact_to_target(0x02800056) == (0, False, False)
    assert compact_to_target(0x01FEDCBA) == (0x7E, True, False)
    assert bits_to_target(0x01800001) == 0
    assert compact_to_target(0xFF123456)[2]  # overflow
    with pytest.raises(ValueError):
        bits_to_target(0x04923456)


def test_work_and_difficulty():
    assert block_work(0x207FFFFF) == 2  # regtest: chainwork(h) = 2 * (h + 1)
    assert block_work(0x1D00FFFF) == 0x100010001
    assert get_difficulty(0x1D00FFFF) == 1.0
    assert get_difficulty(0x207FFFFF) == pytest.approx(4.656542373906925e-10)
    assert get_difficulty(0x1D00D86A) == pytest.approx(1.182899534312841)


def test_check_proof_of_work():
    main = get_params("main")
    assert check_proof_of_work(main.genesis_hash_bytes, 0x1D00FFFF, main)
    assert not check_proof_of_work(main.genesis_hash_bytes, 0x1B00FFFF, main)  # harder target
    assert not check_proof_of_work(b"\x00" * 32, 0x1E00FFFF, main)  # above the pow limit
    assert not check_proof_of_work(b"\x00" * 32, 0x1D000000, main)  # zero target


# Real retargets, from the header times and bits Bitcoin used (the same figures as
# Bitcoin Core's src/test/pow_tests.cpp):
#  - height 32255 -> 32256, the first difficulty change: block 30240 has time 1261130161,
#    block 32255 time 1262152739, bits 0x1d00ffff; block 32256 carries 0x1d00d86a.
#  - height 68543 -> 68544, timespan below T/4 (clamped): block 66528 time 1279008237,
#    block 68543 time 1279297671, bits 0x1c05a3f4; block 68544 carries 0x1c0168fd.
#  - height 2015 -> 2016, limited by the pow limit: genesis time 1231006505, block 2015
#    time 1233061996, bits 0x1d00ffff; block 2016 carries 0x1d00ffff.
@pytest.mark.parametrize("first_time,last_time,bits,expected", [
    (1261130161, 1262152739, 0x1D00FFFF, 0x1D00D86A),
    (1279008237, 1279297671, 0x1C05A3F4, 0x1C0168FD),
    (1231006505, 1233061996, 0x1D00FFFF, 0x1D00FFFF),
    (1263163443, 1269211443, 0x1C387F6F, 0x1D00E1FD),  # above 4T (Core's synthetic case)
])
def test_mainnet_retarget(first_time, last_time, bits, expected):
    assert calculate_next_work_required(bits, last_time, first_time, get_params("main")) == expected


class Entry(SimpleNamespace):
    def get_ancestor(self, height):
        e = self
        while e.height > height:
            e = e.prev
        return e


def _chain(n, bits, start_time, spacing):
    prev = None
    for h in range(n):
        prev = Entry(height=h, prev=prev, header=SimpleNamespace(time=start_time + h * spacing, bits=bits))
    return prev


def test_get_next_work_required_uses_2015_intervals():
    main = get_params("main")
    # 2016 blocks exactly 600 s apart measure 2015 intervals: a little fast, so the
    # target shrinks by 2015/2016 — Bitcoin's off-by-one.
    tip = _chain(2016, 0x1C05A3F4, 1_300_000_000, 600)
    assert tip.height == 2015
    got = get_next_work_required(tip, tip.header.time + 600, main)
    assert got == target_to_bits(bits_to_target(0x1C05A3F4) * (2015 * 600) // (2016 * 600))
    assert got != 0x1C05A3F4
    # Not at a boundary: unchanged.
    assert get_next_work_required(tip.prev, tip.header.time, main) == 0x1C05A3F4


def test_regtest_never_retargets():
    regtest = get_params("regtest")
    tip = _chain(2016, 0x207FFFFF, 1_300_000_000, 1)
    assert get_next_work_required(tip, tip.header.time + 1, regtest) == 0x207FFFFF
    assert get_next_work_required(tip.prev, tip.header.time + 5000, regtest) == 0x207FFFFF


def test_regtest_shortcut_agrees_with_cores_walk():
    import dataclasses

    regtest = get_params("regtest")
    # The same network with the shortcut's precondition broken (a genesis off the pow
    # limit; the genesis is read only for that) runs Core's full walk.
    from coin.primitives import Block

    genesis = regtest.genesis
    walked = dataclasses.replace(regtest, genesis=Block(genesis.header.replace(bits=0x1D00FFFF), genesis.txs))
    tip = _chain(2100, 0x207FFFFF, 1_300_000_000, 1)
    for entry in (tip, tip.prev, tip.get_ancestor(2015), tip.get_ancestor(2014), tip.get_ancestor(7)):
        for dt in (1, 1201, 5000):
            expected = get_next_work_required(entry, entry.header.time + dt, walked)
            assert get_next_work_required(entry, entry.header.time + dt, regtest) == expected == 0x207FFFFF
