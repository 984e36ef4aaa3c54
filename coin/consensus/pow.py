"""Proof of work: compact bits, targets, work, difficulty and retargeting (Core's pow.cpp).

- `compact_to_target` / `target_to_bits`: arith_uint256's SetCompact / GetCompact, with
  the negative and overflow flags.
- `check_proof_of_work`: the block hash, read as a little-endian 256-bit number, must
  not exceed the target, and the target must be positive and within the network's
  pow limit (Core's CheckProofOfWork). Callers raise `high-hash` when it is False.
- `block_work`: Core's GetBlockProof, 2**256 / (target + 1); chain work sums it.
- `get_next_work_required`: Core's GetNextWorkRequired, including mainnet's
  retarget every 2016 blocks that measures only 2015 intervals (the off-by-one), the
  [T/4, 4T] clamp, and the min-difficulty rule regtest inherits from testnet.

An "index entry" here is anything with `.height`, `.header` (with `.time`, `.bits`),
`.prev` and `.get_ancestor(height)`.
"""

__all__ = [
    "compact_to_target",
    "bits_to_target",
    "target_to_bits",
    "check_proof_of_work",
    "hash_to_int",
    "block_work",
    "get_difficulty",
    "get_next_work_required",
    "calculate_next_work_required",
]

_UINT256_MASK = (1 << 256) - 1


def compact_to_target(bits: int) -> tuple[int, bool, bool]:
    """Core's SetCompact: (target, negative, overflow)."""
    size = bits >> 24
    word = bits & 0x007FFFFF
    if size <= 3:
        # Core shifts the mantissa first: the sign and overflow tests see what is left.
        word >>= 8 * (3 - size)
        target = word
    else:
        target = (word << (8 * (size - 3))) & _UINT256_MASK
    negative = word != 0 and (bits & 0x00800000) != 0
    overflow = word != 0 and (size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32))
    return target, negative, overflow


def bits_to_target(bits: int) -> int:
    """The target encoded by compact `bits`; ValueError if negative or overflowing."""
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow:
        raise ValueError(f"invalid compact target {bits:#010x}")
    return target


def target_to_bits(target: int, negative: bool = False) -> int:
    """Core's GetCompact: the compact encoding of `target` (rounded down)."""
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        compact = (target << (8 * (3 - size))) & 0xFFFFFFFF
    else:
        compact = (target >> (8 * (size - 3))) & 0xFFFFFFFF
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    compact |= size << 24
    if negative and (compact & 0x007FFFFF):
        compact |= 0x00800000
    return compact


def hash_to_int(hash_bytes: bytes) -> int:
    """A hash in internal byte order read as the 256-bit number PoW compares."""
    return int.from_bytes(hash_bytes, "little")


def check_proof_of_work(hash_bytes: bytes, bits: int, params) -> bool:
    """Core's CheckProofOfWork: target valid and within the pow limit, hash <= target."""
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow or target == 0 or target > params.pow_limit:
        return False
    return hash_to_int(hash_bytes) <= target


def block_work(bits: int) -> int:
    """Core's GetBlockProof: expected hashes for a block at `bits`; 0 for invalid bits."""
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow or target == 0:
        return 0
    return ((_UINT256_MASK - target) // (target + 1)) + 1


def get_difficulty(bits: int) -> float:
    """Core's GetDifficulty: the pow limit of difficulty 1 (0x1d00ffff) over the target."""
    shift = (bits >> 24) & 0xFF
    mantissa = bits & 0x00FFFFFF
    if mantissa == 0:
        return 0.0
    diff = 0x0000FFFF / mantissa
    while shift < 29:
        diff *= 256.0
        shift += 1
    while shift > 29:
        diff /= 256.0
        shift -= 1
    return diff


def get_next_work_required(prev, header_time: int, params) -> int:
    """The bits a block on top of index entry `prev`, with timestamp `header_time`, must carry."""
    pow_limit_bits = target_to_bits(params.pow_limit)
    if params.pow_no_retargeting and params.genesis.header.bits == pow_limit_bits:
        # Regtest: with no retargeting and a genesis at the pow limit, every valid block
        # carries the pow limit (by induction over the rules below), so the answer is
        # that without Core's walk back to the last retarget boundary (up to 2015 steps).
        return pow_limit_bits
    interval = params.difficulty_adjustment_interval
    if (prev.height + 1) % interval != 0:
        if params.pow_allow_min_difficulty:
            # Testnet's rule (regtest inherits it): a block more than 20 minutes after
            # its parent may use the minimum difficulty ...
            if header_time > prev.header.time + params.pow_target_spacing * 2:
                return pow_limit_bits
            # ... otherwise the last bits not set by that rule.
            entry = prev
            while (entry.prev is not None and entry.height % interval != 0
                   and entry.header.bits == pow_limit_bits):
                entry = entry.prev
            return entry.header.bits
        return prev.header.bits
    # Retarget: look back 2015 blocks (not 2016: Bitcoin's off-by-one).
    first = prev.get_ancestor(prev.height - (interval - 1))
    return calculate_next_work_required(prev.header.bits, prev.header.time, first.header.time, params)


def calculate_next_work_required(last_bits: int, last_time: int, first_time: int, params) -> int:
    """Core's CalculateNextWorkRequired from the period's last bits and its first/last times."""
    if params.pow_no_retargeting:
        return last_bits
    timespan = params.pow_target_timespan
    actual = last_time - first_time
    actual = max(timespan // 4, min(actual, timespan * 4))
    target, _, _ = compact_to_target(last_bits)
    new_target = (target * actual) // timespan
    new_target = min(new_target, params.pow_limit)
    return target_to_bits(new_target)
