"""The proof-of-work scanner and the mining driver.

Oracles: hashlib's double SHA-256 (the Python twin) and python-bitcoinlib's block header
hash; the mainnet genesis header and its known nonce.
"""

import hashlib
import random
import struct
import threading
import time

import pytest
from bitcoin.core import CBlockHeader

from coin.mining import Miner, StopFlag, has_avx2, has_sha_ni, scan, scan_python
from coin.mining.scanner import IMPL_ENV, native_available

GENESIS_HEADER = bytes.fromhex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd"
    "7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
)
GENESIS_NONCE = 2083236893
GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
BITS_1D00FFFF_TARGET = 0x00000000FFFF0000000000000000000000000000000000000000000000000000

IMPLS = [
    pytest.param(
        "portable",
        marks=pytest.mark.skipif(not native_available(), reason="coin._miner not built"),
    ),
    pytest.param(
        "shani",
        marks=pytest.mark.skipif(not has_sha_ni(), reason="CPU without SHA extensions"),
    ),
    pytest.param(
        "avx2",
        marks=pytest.mark.skipif(not has_avx2(), reason="CPU without AVX2"),
    ),
]


def header_hash_int(header: bytes, nonce: int) -> int:
    """The header's double SHA-256 with `nonce`, as Bitcoin compares it (little-endian)."""
    data = header[:76] + struct.pack("<I", nonce)
    return int.from_bytes(hashlib.sha256(hashlib.sha256(data).digest()).digest(), "little")


def random_case(seed: int):
    rng = random.Random(seed)
    header = rng.randbytes(80)
    # easy targets (top 1..10 bits clear) so that most ranges hold a solution
    target = rng.getrandbits(256) >> rng.randrange(1, 11)
    count = rng.randrange(1, 1500)
    if seed % 5 == 0:  # a range that ends exactly at the top of the nonce space
        start = (1 << 32) - count
    else:
        start = rng.randrange(0, (1 << 32) - count)
    return header, target, start, count


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("seed", range(40), ids=lambda s: f"seed{s}")
def test_native_agrees_with_python_twin(impl, seed):
    header, target, start, count = random_case(seed)
    expected = scan_python(header, target, start, count)
    assert scan(header, target, start, count, impl=impl) == expected
    if expected.nonce is not None:
        assert header_hash_int(header, expected.nonce) <= target
        assert expected.hashes == expected.nonce - start + 1


@pytest.mark.parametrize("impl", IMPLS)
def test_every_lane_position_of_a_solution(impl):
    # SHA-NI hashes nonces in pairs, AVX2 in groups of eight: the winner may sit in any
    # lane of a group, the range may end inside a group
    rng = random.Random(7)
    header = rng.randbytes(80)
    for winner_offset in range(8):
        nonce = 1000 + winner_offset
        target = header_hash_int(header, nonce)
        for start in range(nonce - 9, nonce + 1):
            expected = scan_python(header, target, start, nonce - start + 1)
            assert scan(header, target, start, nonce - start + 1, impl=impl) == expected
            assert expected.nonce is not None


@pytest.mark.parametrize("impl", IMPLS + ["python"])
@pytest.mark.parametrize("seed", range(6), ids=lambda s: f"seed{s}")
def test_target_equal_to_hash_is_accepted_and_one_less_rejected(impl, seed):
    rng = random.Random(1000 + seed)
    header = rng.randbytes(80)
    nonce = rng.randrange(1 << 32)
    h = header_hash_int(header, nonce)
    fn = scan_python if impl == "python" else scan
    kwargs = {} if impl == "python" else {"impl": impl}
    assert fn(header, h, nonce, 1, **kwargs).nonce == nonce
    assert fn(header, h - 1, nonce, 1, **kwargs) == (None, 1)
    # same top word, lower words one bigger: still accepted
    assert fn(header, h + 1, nonce, 1, **kwargs).nonce == nonce


def test_genesis_header_oracle():
    header = CBlockHeader.deserialize(GENESIS_HEADER)
    assert header.nNonce == GENESIS_NONCE
    assert header.GetHash()[::-1].hex() == GENESIS_HASH
    assert header_hash_int(GENESIS_HEADER, GENESIS_NONCE) <= BITS_1D00FFFF_TARGET


@pytest.mark.parametrize("impl", IMPLS + ["python"])
def test_finds_the_mainnet_genesis_nonce(impl):
    start = GENESIS_NONCE - 1500
    header = GENESIS_HEADER[:76] + b"\0\0\0\0"  # the nonce field is ignored
    if impl == "python":
        result = scan_python(header, BITS_1D00FFFF_TARGET, start, 3000)
    else:
        result = scan(header, BITS_1D00FFFF_TARGET, start, 3000, impl=impl)
    assert result.nonce == GENESIS_NONCE
    assert result.hashes == 1501
    # a range that stops just short of it holds no solution
    if impl != "python":
        assert scan(header, BITS_1D00FFFF_TARGET, start, 1500, impl=impl) == (None, 1500)


@pytest.mark.skipif(not native_available(), reason="coin._miner not built")
def test_impl_env_var_is_read_at_call_time(monkeypatch):
    header, target, start, count = random_case(3)
    expected = scan_python(header, target, start, count)
    monkeypatch.setenv(IMPL_ENV, "portable")
    assert scan(header, target, start, count) == expected
    monkeypatch.setenv(IMPL_ENV, "no-such-impl")
    with pytest.raises(ValueError):
        scan(header, target, start, count)


@pytest.mark.skipif(not native_available(), reason="coin._miner not built")
@pytest.mark.parametrize("impl,present", [("shani", has_sha_ni()), ("avx2", has_avx2())])
def test_a_missing_cpu_path_raises(impl, present):
    if present:
        assert scan(GENESIS_HEADER, 0, 0, 10, impl=impl) == (None, 10)
    else:
        with pytest.raises(ValueError):
            scan(GENESIS_HEADER, 0, 0, 10, impl=impl)


@pytest.mark.parametrize("fn", [scan, scan_python], ids=["native", "python"])
def test_raised_stop_flag_returns_at_once(fn):
    flag = StopFlag()
    flag.set()
    assert fn(GENESIS_HEADER, 1 << 255, 0, 1 << 20, flag) == (None, 0)
    flag.clear()
    assert fn(GENESIS_HEADER, 1 << 255, 0, 100, flag).nonce is not None


@pytest.mark.parametrize("fn", [scan, scan_python], ids=["native", "python"])
@pytest.mark.parametrize(
    "args",
    [
        (GENESIS_HEADER[:79], 1, 0, 1),
        (GENESIS_HEADER, -1, 0, 1),
        (GENESIS_HEADER, 1 << 256, 0, 1),
        (GENESIS_HEADER, 1, 1 << 32, 0),
        (GENESIS_HEADER, 1, (1 << 32) - 1, 2),
        (GENESIS_HEADER, 1, 0, -1),
    ],
    ids=["short-header", "negative-target", "huge-target", "start-too-big", "past-end", "neg"],
)
def test_bad_arguments(fn, args):
    with pytest.raises(ValueError):
        fn(*args)


def _scan_into(out: list, *args) -> None:
    out.append(scan(*args))


@pytest.mark.skipif(not native_available(), reason="coin._miner not built")
def test_native_scan_releases_the_gil():
    # This thread can only get back to Python (to raise the flag) while the scan is
    # running if the scan released the GIL; if it held it, the scan would run to the end
    # of its (hopeless) range and report every nonce.
    count = 1 << 31
    for delay in (0.05, 0.5, 2.0):  # the scan must have started before the flag goes up
        flag = StopFlag()
        result: list = []
        job = threading.Thread(target=_scan_into, args=(result, GENESIS_HEADER, 0, 0, count, flag))
        job.start()
        time.sleep(delay)
        flag.set()
        job.join(timeout=600)
        assert not job.is_alive()
        assert result[0].nonce is None
        if result[0].hashes:
            break
    assert 0 < result[0].hashes < count


def test_header_may_be_any_bytes_like():
    expected = scan_python(GENESIS_HEADER, BITS_1D00FFFF_TARGET, GENESIS_NONCE - 5, 10)
    assert scan(bytearray(GENESIS_HEADER), BITS_1D00FFFF_TARGET, GENESIS_NONCE - 5, 10) == expected
    assert scan(memoryview(GENESIS_HEADER), BITS_1D00FFFF_TARGET, GENESIS_NONCE - 5, 10) == expected


def test_empty_range():
    assert scan(GENESIS_HEADER, 1 << 255, 5, 0) == (None, 0)
    assert scan_python(GENESIS_HEADER, 1 << 255, 5, 0) == (None, 0)


# ---- the driver ------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_miner_finds_the_genesis_nonce(threads):
    miner = Miner(threads=threads, chunk=1000)
    nonce = miner.mine(
        GENESIS_HEADER, BITS_1D00FFFF_TARGET, start_nonce=GENESIS_NONCE - 3000,
        end_nonce=GENESIS_NONCE + 3000,
    )
    assert nonce == GENESIS_NONCE
    assert not miner.stopped
    assert not miner.is_mining
    assert all(not t.is_alive() for t in miner.workers)


def test_miner_exhausted_range_returns_none():
    miner = Miner(threads=2, chunk=777)
    assert miner.mine(GENESIS_HEADER, 0, start_nonce=10, end_nonce=5010) is None
    assert miner.hashes == 5000
    assert not miner.stopped


def test_miner_with_the_python_twin_agrees():
    rng = random.Random(99)
    header = rng.randbytes(80)
    target = 1 << 248  # about one nonce in 256 wins
    first = scan_python(header, target, 0, 1 << 16).nonce
    miner = Miner(threads=1, chunk=100, scanner=scan_python)
    assert miner.mine(header, target, end_nonce=1 << 16) == first
    assert Miner(threads=1, chunk=100).mine(header, target, end_nonce=1 << 16) == first


def test_miner_stop_ends_a_hopeless_job():
    miner = Miner(threads=2)
    result = []
    job = threading.Thread(target=lambda: result.append(miner.mine(GENESIS_HEADER, 0)))
    job.start()
    deadline = time.monotonic() + 30  # guards against a hang; not a timing figure
    while not miner.is_mining and job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert miner.is_mining
    miner.stop()
    job.join(timeout=30)
    assert not job.is_alive()
    assert result == [None]
    assert miner.stopped
    assert not miner.is_mining
    assert len(miner.workers) == 2
    assert all(not t.is_alive() for t in miner.workers)
    assert miner.hashes < 1 << 32


def test_miner_rejects_a_second_concurrent_job():
    miner = Miner(threads=1)
    job = threading.Thread(target=miner.mine, args=(GENESIS_HEADER, 0))
    job.start()
    deadline = time.monotonic() + 30
    while not miner.is_mining and time.monotonic() < deadline:
        time.sleep(0.001)
    try:
        with pytest.raises(RuntimeError):
            miner.mine(GENESIS_HEADER, 0)
    finally:
        miner.stop()
        job.join(timeout=30)
    assert not job.is_alive()


def test_miner_stop_when_idle_is_harmless():
    miner = Miner(threads=1)
    miner.stop()
    expected = scan_python(GENESIS_HEADER, 1 << 255, 0, 10).nonce
    assert expected is not None
    assert miner.mine(GENESIS_HEADER, 1 << 255, end_nonce=10) == expected


def test_miner_surfaces_scanner_errors():
    def broken(*args, **kwargs):
        raise OSError("boom")

    with pytest.raises(OSError):
        Miner(threads=2, scanner=broken).mine(GENESIS_HEADER, 1)
