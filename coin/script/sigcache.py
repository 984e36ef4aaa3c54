"""SignatureCache: remembers ECDSA verifications that succeeded (Core's CSignatureCache).

A transaction's signatures are checked when it enters the mempool; when the block
containing it connects, the interpreter finds them here instead of verifying again.
Entries are (sighash, public key, signature) triples, stored as a salted SHA-256 of the
triple, so a peer cannot aim collisions at the table. Only successes are stored, as in
Core: a failure is never cached, so a cache can only skip work, never change a verdict.

Bounded: at most `max_entries`; when full, an arbitrary entry (the oldest inserted,
Python dicts keep order) is evicted. Thread-safe: the verification thread pool shares
one cache.
"""

import hashlib
import os
import threading

__all__ = ["SignatureCache", "DEFAULT_MAX_SIG_CACHE_ENTRIES"]

DEFAULT_MAX_SIG_CACHE_ENTRIES = 1 << 16


class SignatureCache:
    """A bounded, salted, thread-safe set of verified (sighash, pubkey, signature) triples."""

    def __init__(self, max_entries: int = DEFAULT_MAX_SIG_CACHE_ENTRIES):
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self._salt = hashlib.sha256(os.urandom(32))
        self._entries: dict[bytes, None] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _key(self, sighash: bytes, pubkey: bytes, signature: bytes) -> bytes:
        h = self._salt.copy()
        # Lengths make the concatenation unambiguous.
        h.update(sighash)
        h.update(len(pubkey).to_bytes(2, "little"))
        h.update(pubkey)
        h.update(signature)
        return h.digest()

    def contains(self, sighash: bytes, pubkey: bytes, signature: bytes) -> bool:
        """True if this triple was stored as a successful verification."""
        if not self._entries:  # nothing to find: skip the salted hash (e.g. during IBD)
            self.misses += 1
            return False
        key = self._key(sighash, pubkey, signature)
        with self._lock:
            if key in self._entries:
                self.hits += 1
                return True
            self.misses += 1
            return False

    def add(self, sighash: bytes, pubkey: bytes, signature: bytes) -> None:
        """Record a successful verification, evicting the oldest entry when full."""
        key = self._key(sighash, pubkey, signature)
        with self._lock:
            entries = self._entries
            if key in entries:
                return
            if len(entries) >= self.max_entries:
                del entries[next(iter(entries))]
            entries[key] = None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
