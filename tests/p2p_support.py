"""Shared pieces of the in-process P2P tests: a node stand-in that runs a real ChainState,
Mempool and ConnMan on loopback WebSockets, and small async helpers."""

import asyncio
import functools
import time
from concurrent.futures import ThreadPoolExecutor

from blockbuilder import BlockBuilder

from coin.chain.chainstate import ChainState
from coin.config import NODE_ARGS, parse_args
from coin.mempool.pool import Mempool
from coin.p2p.connman import ConnMan
from coin.params import get_params

__all__ = ["REGTEST", "StubNode", "make_builder", "run", "until"]

REGTEST = get_params("regtest")


class StubNode:
    """What ConnMan needs of a Node: params, config, clock, datadir, chain, pool, run_validation."""

    def __init__(self, datadir, *args):
        datadir.mkdir(parents=True, exist_ok=True)
        self.config = parse_args(["-regtest", f"-datadir={datadir}", "-port=0", "-bind=127.0.0.1", *args],
                                 args=NODE_ARGS)
        self.params = REGTEST
        self.clock = time.time
        self.net_datadir = self.config.net_datadir
        self.net_datadir.mkdir(parents=True, exist_ok=True)
        self.chainstate = ChainState(REGTEST, self.net_datadir, script_threads=1)
        self.mempool = Mempool(REGTEST, self.chainstate)
        self.mempool.connect_to_chain(self.chainstate)
        self._ex = ThreadPoolExecutor(1, thread_name_prefix="validation")
        self.connman = ConnMan(self)

    async def run_validation(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._ex, functools.partial(fn, *args))

    async def stop(self):
        await self.connman.stop()
        await self.run_validation(self.chainstate.close)
        self._ex.shutdown()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.connman.port}"

    @property
    def url(self) -> str:
        return f"ws://{self.address}/"


async def until(predicate, timeout: float = 20.0, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def make_builder() -> BlockBuilder:
    """A regtest block builder whose blocks are three hours old (so the node is in IBD)."""
    return BlockBuilder(time=int(time.time()) - 3 * 3600)
