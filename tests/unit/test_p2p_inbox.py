"""coin.p2p.inbox.LoopInbox: reports from the validation thread reach the event loop in
posting order, many to a wake-up; a holder's posts wait for its wake()/release()."""

import asyncio
import threading

from coin.p2p.inbox import LoopInbox


def test_posts_run_in_order_many_to_a_wake_up_and_survive_a_failing_call():
    async def scenario():
        loop = asyncio.get_running_loop()
        inbox = LoopInbox()
        inbox.post(print, "dropped: not bound yet")
        assert len(inbox) == 0
        inbox.bind(loop)
        seen = []
        wakes = []
        real = loop.call_soon_threadsafe
        loop.call_soon_threadsafe = lambda *a: (wakes.append(1), real(*a))[1]

        def boom():
            raise RuntimeError("a bug in one report")

        def worker():
            for i in range(200):
                inbox.post(seen.append, i)
                if i == 100:
                    inbox.post(boom)

        t = threading.Thread(target=worker)
        t.start()
        while len(seen) < 200:
            await asyncio.sleep(0.001)
        t.join()
        assert seen == list(range(200))      # in order, and the failing call did not stop the rest
        assert 1 <= len(wakes) <= 201

        # a holder's posts wait for its wake(); other threads' posts still wake the loop
        wakes.clear()
        held = []
        wakes_while_held = []

        def holder():
            inbox.hold()
            for i in range(10):
                inbox.post(held.append, i)
            wakes_while_held.append(len(wakes))  # nothing may have woken the loop yet
            inbox.wake()
            for i in range(10, 20):
                inbox.post(held.append, i)
            inbox.release()

        t = threading.Thread(target=holder)
        t.start()
        t.join()
        await asyncio.sleep(0.05)
        assert wakes_while_held == [0]
        assert held == list(range(20)) and 1 <= len(wakes) <= 2
        loop.call_soon_threadsafe = real

    asyncio.run(scenario())


def test_binding_a_new_loop_drops_what_the_old_one_never_ran():
    """A wake-up scheduled on a loop that stopped first must not wedge the inbox on the
    next loop (ConnMan started again)."""
    inbox = LoopInbox()
    first = asyncio.new_event_loop()
    inbox.bind(first)
    inbox.post(print, "never run: its loop is closed before running it")
    first.close()
    ran = []

    async def scenario():
        inbox.bind(asyncio.get_running_loop())
        threading.Thread(target=inbox.post, args=(ran.append, 1)).start()
        for _ in range(200):
            if ran:
                break
            await asyncio.sleep(0.005)

    asyncio.run(scenario())
    assert ran == [1]
