"""coin.rpc.blockchain_extra._TipWatch: the validation thread wakes the event loop only
for a tip some waiting RPC call wants (waitforblock during a sync: one wake-up)."""

import asyncio
import threading
from types import SimpleNamespace

from coin.rpc.blockchain_extra import _TipWatch


def _entry(height: int):
    return SimpleNamespace(hash=f"{height:064x}", height=height)


def test_wakes_only_for_a_wanted_tip():
    async def scenario():
        loop = asyncio.get_running_loop()
        watch = _TipWatch(loop, _entry(0))
        wakes = []
        real_wake = watch._wake
        watch._wake = lambda: (wakes.append(watch.tip), real_wake())
        watch.waiting[object()] = lambda _h, height: height >= 500
        changed = watch.changed

        def validation_thread():  # 1,000 tips, as a sync connects them
            for h in range(1, 1001):
                watch.on_tip_changed(_entry(h))

        t = threading.Thread(target=validation_thread)
        t.start()
        await asyncio.wait_for(changed.wait(), 10)
        t.join()
        await asyncio.sleep(0.05)
        assert len(wakes) == 1 and wakes[0][1] >= 500
        assert watch.tip == (_entry(1000).hash, 1000)  # the latest tip, always stored
        # nobody waiting: tips are stored, the loop is not woken
        watch.waiting.clear()
        watch.on_tip_changed(_entry(1001))
        await asyncio.sleep(0.05)
        assert len(wakes) == 1 and watch.tip[1] == 1001

    asyncio.run(scenario())
