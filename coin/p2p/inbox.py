"""`LoopInbox`: calls from other threads, run on the event loop many to a wake-up.

The validation thread reports each block it validated, and each tip change, to the
event loop. One `call_soon_threadsafe` a report would write to the loop's self-pipe
and wake it every time, and each wake-up takes the GIL from the validation thread
for a moment; during initial block download that is thousands of hand-offs. Here
reports queue up and the loop is woken once for all that arrive before it runs
them (in the order they were posted). A thread that reports a run of results (the
sync's validation job) can `hold()` the wake-ups for its own posts and `wake()` the
loop every few: the loop then runs their reports together.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["LoopInbox"]

log = logging.getLogger("coin.p2p")


class LoopInbox:
    """Run `post(fn, *args)` calls from any thread on the bound loop, in posting order.

    Posts before `bind` or after the loop closed are dropped (nothing would run them).
    A call that raises is logged; the calls after it still run. Between `hold()` and
    `release()` the posts of the holding thread do not wake the loop; `wake()` and
    `release()` do, if anything waits. Posts of other threads wake it as usual.
    """

    __slots__ = ("_loop", "_calls", "_wake_pending", "_holder")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: deque = deque()
        self._wake_pending = False
        self._holder: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver to `loop` from now on (calls left from an earlier loop are dropped)."""
        self._loop = loop
        self._calls.clear()
        self._wake_pending = False

    def post(self, fn: Callable, *args) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._calls.append((fn, args))
        if self._holder is not None and self._holder == threading.get_ident():
            return
        self.wake()

    def wake(self) -> None:
        """Have the loop run what was posted (no-op if nothing waits or a wake-up is on
        its way: it will run these calls too)."""
        loop = self._loop
        if self._wake_pending or not self._calls or loop is None:
            return
        self._wake_pending = True
        try:
            loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # closed meanwhile
            self._wake_pending = False

    def hold(self) -> None:
        """Until `release()`, this thread's posts wait for its `wake()` (one holder)."""
        self._holder = threading.get_ident()

    def release(self) -> None:
        self._holder = None
        self.wake()

    def _run(self) -> None:
        # Cleared before draining: a post that sees it cleared wakes the loop again,
        # one that saw it set appended before this drain reads the queue.
        self._wake_pending = False
        calls = self._calls
        while calls:
            fn, args = calls.popleft()
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - one report's bug must not lose the rest
                log.exception("error in %r posted to the event loop", fn)

    def __len__(self) -> int:
        return len(self._calls)
