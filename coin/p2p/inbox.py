"""`LoopInbox`: calls from other threads, run on the event loop many to a wake-up.

The validation thread reports each block it validated, and each tip change, to the
event loop. One `call_soon_threadsafe` a report would write to the loop's self-pipe
and wake it every time, and each wake-up takes the GIL from the validation thread
for a moment; during initial block download that is thousands of hand-offs. Here
reports queue up and the loop is woken once for all that arrive before it runs
them (in the order they were posted).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

__all__ = ["LoopInbox"]

log = logging.getLogger("coin.p2p")


class LoopInbox:
    """Run `post(fn, *args)` calls from any thread on the bound loop, in posting order.

    Posts before `bind` or after the loop closed are dropped (nothing would run them).
    A call that raises is logged; the calls after it still run.
    """

    __slots__ = ("_loop", "_calls", "_wake_pending")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: deque = deque()
        self._wake_pending = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def post(self, fn: Callable, *args) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._calls.append((fn, args))
        if self._wake_pending:
            return  # a wake-up is on its way and will run this call too
        self._wake_pending = True
        try:
            loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # closed meanwhile
            self._wake_pending = False

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
