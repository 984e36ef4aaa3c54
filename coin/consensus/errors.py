"""The one rejection exception for consensus and policy failures, and the internal-fault error.

Every validation failure raises `Rejection` carrying Bitcoin Core's reason string
(`bad-txns-inputs-missingorspent`, `high-hash`, ...), an optional debug message, the
kind of failure and the misbehaviour score a peer earns for sending it. RPC maps the
kind to Core's error codes; P2P adds the score to the sender's misbehaviour.
"""

import enum

__all__ = ["RejectKind", "Rejection", "InternalError"]


class RejectKind(enum.Enum):
    CONSENSUS = "consensus"        # breaks a consensus rule: permanently invalid
    POLICY = "policy"              # valid but not standard: not relayed / not in the mempool
    MISSING_INPUTS = "missing-inputs"
    CONFLICT = "conflict"          # conflicts with the mempool
    DUPLICATE = "duplicate"        # already known
    HEADER = "header"              # header-level failure (PoW, bits, time)
    TIME_FUTURE = "time-future"    # too far in the future: may become valid later
    CACHED_INVALID = "cached-invalid"
    PREV_MISSING = "prev-missing"  # parent unknown


class Rejection(Exception):
    """A validation failure with Bitcoin Core's reason string.

    `str(rejection)` is Core's `state.ToString()`: `reason` or `reason, debug`.
    """

    def __init__(self, reason: str, debug: str = "", *, kind: RejectKind = RejectKind.CONSENSUS,
                 ban_score: int = 100):
        super().__init__(reason)
        self.reason = reason
        self.debug = debug
        self.kind = kind
        self.ban_score = ban_score

    def __str__(self) -> str:
        return f"{self.reason}, {self.debug}" if self.debug else self.reason

    def __repr__(self) -> str:
        return f"Rejection({self.reason!r}, {self.debug!r}, kind={self.kind.value}, ban_score={self.ban_score})"


class InternalError(Exception):
    """A fault of ours (corrupt database, broken invariant), never a peer's doing."""
