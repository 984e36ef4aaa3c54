"""The mining driver: search the nonce space of one header on several native threads.

`Miner.mine(header80, target)` hands [0, 2**32) out in chunks from a shared cursor: each
thread takes the next chunk and calls `scan()` on it (the native scanner releases the
GIL, so the threads run in parallel), so a core that is busier than the others simply
does fewer chunks instead of holding up the whole job (a fixed slice per thread made
every job wait for the slowest core: ~1.75x on two cores, ~1.9x with the cursor). The first thread to find a nonce raises the shared
stop flag and every other thread returns within milliseconds (the C loop polls the flag
every few thousand nonces). `Miner.stop()`, callable from any thread or from the asyncio
loop (it only writes one int), ends the job in progress the same way.

`mine` returns the winning nonce, or None when the range is exhausted (the caller then
changes the extranonce or the time) or the job was stopped (`stopped` tells which).

Typical use from asyncio:

    nonce = await loop.run_in_executor(None, miner.mine, header, target)
    ...                                  # and on a new tip: miner.stop()
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from coin.mining.scanner import ScanResult, StopFlag, scan

__all__ = ["Miner", "NONCE_SPACE", "DEFAULT_CHUNK"]

NONCE_SPACE = 1 << 32
DEFAULT_CHUNK = 1 << 18  # ~10 ms of one SHA-NI thread: fine-grained enough to balance

Scanner = Callable[..., ScanResult]


class Miner:
    """Multi-threaded nonce search over the native scanner (one job at a time)."""

    def __init__(
        self,
        threads: int | None = None,
        *,
        chunk: int = DEFAULT_CHUNK,
        scanner: Scanner = scan,
    ) -> None:
        if chunk <= 0:
            raise ValueError("chunk must be positive")
        self.threads = threads or os.cpu_count() or 1
        self.chunk = chunk
        self._scanner = scanner
        self._lock = threading.Lock()
        self._flag: StopFlag | None = None
        self._workers: list[threading.Thread] = []
        #: nonces tried by the last (or current) job, summed over threads
        self.hashes = 0
        #: True when the last job ended because stop() was called
        self.stopped = False

    @property
    def is_mining(self) -> bool:
        """True while a job is running."""
        with self._lock:
            return self._flag is not None

    @property
    def workers(self) -> tuple[threading.Thread, ...]:
        """The threads of the last (or current) job."""
        return tuple(self._workers)

    def stop(self) -> None:
        """Make the job in progress return (None) within milliseconds; thread-safe.

        A call while no job runs does nothing.
        """
        with self._lock:
            if self._flag is not None:
                self.stopped = True
                self._flag.set()

    def mine(
        self,
        header: bytes,
        target: int,
        threads: int | None = None,
        *,
        start_nonce: int = 0,
        end_nonce: int = NONCE_SPACE,
    ) -> int | None:
        """Search nonces in [start_nonce, end_nonce) for one whose header hash <= target.

        Blocks until a nonce is found (returned), the range is exhausted (None) or
        stop() is called (None, and `stopped` is True). Raises ValueError on a bad
        header or range, RuntimeError if a job is already running on this Miner.
        """
        if len(header) != 80:
            raise ValueError(f"header must be 80 bytes, got {len(header)}")
        if not 0 <= start_nonce <= end_nonce <= NONCE_SPACE:
            raise ValueError("need 0 <= start_nonce <= end_nonce <= 2**32")
        n = max(1, threads or self.threads)
        flag = StopFlag()
        with self._lock:
            if self._flag is not None:
                raise RuntimeError("a mining job is already running")
            self._flag = flag
            self.stopped = False
            self.hashes = 0
        found: list[int] = []
        counts = [0] * n
        errors: list[BaseException] = []
        cursor = [start_nonce]  # next nonce to hand out, under self._lock

        def next_chunk() -> tuple[int, int] | None:
            with self._lock:
                pos = cursor[0]
                if pos >= end_nonce:
                    return None
                size = min(self.chunk, end_nonce - pos)
                cursor[0] = pos + size
                return pos, size

        def work(idx: int) -> None:
            try:
                while not flag.is_set():
                    chunk = next_chunk()
                    if chunk is None:
                        return
                    result = self._scanner(header, target, chunk[0], chunk[1], flag)
                    counts[idx] += result.hashes
                    if result.nonce is not None:
                        with self._lock:
                            found.append(result.nonce)
                        flag.set()
                        return
            except BaseException as exc:  # surfaced to the caller of mine()
                errors.append(exc)
                flag.set()

        workers = [
            threading.Thread(target=work, args=(i,), name=f"miner-{i}", daemon=True)
            for i in range(n)
        ]
        self._workers = workers
        try:
            for t in workers:
                t.start()
            for t in workers:
                t.join()
        finally:
            flag.set()  # if join() was interrupted, the workers must not run on
            with self._lock:
                self._flag = None
                self.hashes = sum(counts)
                if found:
                    self.stopped = False
        if errors:
            raise errors[0]
        return min(found) if found else None
