"""BIP-0009 version bits: deployment states and the block version a miner sets.

Core's AbstractThresholdConditionChecker, for the deployments a network still
signals (`ChainParams.version_bits_deployments`; on regtest only `testdummy`, bit 28).
A deployment's state changes only at window boundaries (`rule_change_window`
blocks), judged from the block before the window:

    DEFINED -> STARTED      once that block's median time past >= start time
    STARTED -> LOCKED_IN    once >= threshold blocks of the last window signalled
    STARTED -> FAILED       once median time past >= timeout (not locked in)
    LOCKED_IN -> ACTIVE     after one more window (and min activation height)

`compute_block_version` is Core's ComputeBlockVersion: 0x20000000 plus the bit of
every deployment in STARTED or LOCKED_IN. On regtest, blocks 144..431 of a chain
whose blocks all signal carry 0x30000000.
"""

import enum

__all__ = ["ThresholdState", "VERSIONBITS_TOP_BITS", "deployment_state", "compute_block_version"]

VERSIONBITS_TOP_BITS = 0x20000000
VERSIONBITS_TOP_MASK = 0xE0000000


class ThresholdState(enum.Enum):
    DEFINED = "defined"
    STARTED = "started"
    LOCKED_IN = "locked_in"
    ACTIVE = "active"
    FAILED = "failed"


def _signals(version: int, bit: int) -> bool:
    return (version & VERSIONBITS_TOP_MASK) == VERSIONBITS_TOP_BITS and (version >> bit) & 1 == 1


def deployment_state(prev, deployment, params, cache: dict | None = None) -> ThresholdState:
    """The state for the block after index entry `prev` (None: the genesis block)."""
    _, bit, start, timeout, min_height = deployment
    window, threshold = params.rule_change_window, params.rule_change_threshold
    cache = {} if cache is None else cache
    # Walk back to the last block of the previous window.
    if prev is not None:
        prev = prev.get_ancestor(prev.height - ((prev.height + 1) % window))
    to_compute = []
    while prev is not None and (deployment, prev.hash_bytes) not in cache:
        if prev.median_time_past() < start:
            cache[(deployment, prev.hash_bytes)] = ThresholdState.DEFINED
            break
        to_compute.append(prev)
        prev = prev.get_ancestor(prev.height - window)
    state = ThresholdState.DEFINED if prev is None else cache[(deployment, prev.hash_bytes)]
    for entry in reversed(to_compute):
        if state is ThresholdState.DEFINED:
            if entry.median_time_past() >= start:
                state = ThresholdState.STARTED
        elif state is ThresholdState.STARTED:
            count, walk = 0, entry
            for _ in range(window):
                if _signals(walk.header.version, bit):
                    count += 1
                walk = walk.prev
            if count >= threshold:
                state = ThresholdState.LOCKED_IN
            elif entry.median_time_past() >= timeout:
                state = ThresholdState.FAILED
        elif state is ThresholdState.LOCKED_IN:
            if entry.height + 1 >= min_height:
                state = ThresholdState.ACTIVE
        cache[(deployment, entry.hash_bytes)] = state
    return state


def compute_block_version(prev, params, cache: dict | None = None) -> int:
    """Core's ComputeBlockVersion for a block on top of `prev`."""
    version = VERSIONBITS_TOP_BITS
    for deployment in params.version_bits_deployments:
        if deployment_state(prev, deployment, params, cache) in (ThresholdState.STARTED,
                                                                 ThresholdState.LOCKED_IN):
            version |= 1 << deployment[1]
    return version
